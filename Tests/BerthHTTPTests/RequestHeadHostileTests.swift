@testable import BerthHTTP
import CHTTPParser
import XCTest

/// Heads a hostile or careless client sends, through http-parser and the reader as a connection feeds them:
/// the head kept as bytes must show every field as the Strings did, and refuse what it refused.
final class RequestHeadHostileTests: XCTestCase {
    /// The head http-parser and the reader make of `raw`, or why it was refused (a refusal or a parser error).
    private func parse(_ raw: [UInt8], limits: HTTPLimits = HTTPLimits(), pieceSize: Int = Int.max) -> Result<HTTPRequestHead, ParseFailure> {
        let events = Events(limits: limits)
        let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)
        defer { parser.deallocate() }
        http_parser_init(parser, HTTP_REQUEST)
        let target = HTTPParserTarget(events)
        target.attach(parser)
        events.parser = parser
        var start = 0
        while start < raw.count, events.outcome == nil {
            let end = min(raw.count, start + min(pieceSize, raw.count - start))
            _ = raw[start..<end].withUnsafeBytes { piece in
                piece.withMemoryRebound(to: CChar.self) { http_parser_execute(parser, &httpParserSettings, $0.baseAddress, $0.count) }
            }
            if parser.pointee.http_errno != HPE_OK.rawValue, events.outcome == nil {
                events.outcome = .failure(.parser(parser.pointee.http_errno))
            }
            start = end
        }
        return events.outcome ?? .failure(.incomplete)
    }

    private func parse(_ text: String, limits: HTTPLimits = HTTPLimits(), pieceSize: Int = Int.max) -> Result<HTTPRequestHead, ParseFailure> {
        parse(Array(text.utf8), limits: limits, pieceSize: pieceSize)
    }

    func test_a_head_with_100_fields_keeps_every_one_in_order() throws {
        let fields = (0..<100).map { "X-Field-\($0): value \($0)\r\n" }.joined()
        for pieceSize in [1, 7, Int.max] {
            let head = try parse("GET /v2/ HTTP/1.1\r\n\(fields)\r\n", pieceSize: pieceSize).get()
            XCTAssertEqual(head.fields.count, 100)
            XCTAssertEqual(head.header("x-field-0"), "value 0")
            XCTAssertEqual(head.header("X-FIELD-99"), "value 99")
            XCTAssertEqual(head.fields.strings.map(\.name), (0..<100).map { "X-Field-\($0)" })
            XCTAssertNil(head.header("X-Field-100"))
        }
    }

    func test_fields_past_the_count_limit_are_431() {
        let fields = (0..<200).map { "X-\($0): v\r\n" }.joined()
        guard case .failure(.refused(let refusal)) = parse("GET / HTTP/1.1\r\n\(fields)\r\n") else { return XCTFail("accepted") }
        XCTAssertEqual(refusal.status, 431)
    }

    func test_a_value_of_more_than_8_kib_is_whole() throws {
        let long = String(repeating: "abcdefgh", count: 1_500) + "!"
        let head = try parse("GET / HTTP/1.1\r\nX-Long: \(long)\r\nAccept: a\r\n\r\n", pieceSize: 1_000).get()
        XCTAssertEqual(head.header("X-Long"), long)
        XCTAssertEqual(head.header("Accept"), "a")
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 8 * 1024
        guard case .failure(.refused(let refusal)) = parse("GET / HTTP/1.1\r\nX-Long: \(long)\r\n\r\n", limits: limits) else { return XCTFail("accepted") }
        XCTAssertEqual(refusal.status, 431)
    }

    func test_names_differing_only_in_case_are_one_name_and_the_first_answers() throws {
        let head = try parse("GET / HTTP/1.1\r\nX-Tag: one\r\nx-tag: two\r\nX-TAG: three\r\nX-Tah: no\r\n\r\n").get()
        XCTAssertEqual(head.header("x-TAG"), "one")
        XCTAssertEqual(head.headerValues("X-Tag"), ["one", "two", "three"])
        XCTAssertEqual(head.headerValues("X-Ta"), [])
        // Only ASCII letters fold: a name one byte longer or with a non-letter at the same place is another.
        XCTAssertNil(head.header("X-Tag "))
        XCTAssertNil(head.header("X\u{0}Tag"))
    }

    func test_duplicate_content_length_with_different_values_is_refused() {
        guard case .failure = parse("PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!") else { return XCTFail("accepted") }
    }

    func test_the_last_content_length_frames_the_body_as_before_when_the_reader_alone_sees_two() throws {
        var reader = RequestHeadReader(limits: HTTPLimits())
        for (piece, isName) in [("Content-Length", true), ("5", false), ("content-length", true), (" 7 ", false)] {
            let refusal = Array(piece.utf8).withUnsafeBytes { isName ? reader.field($0) : reader.value($0) }
            XCTAssertNil(refusal)
        }
        XCTAssertEqual(try reader.complete(method: .put, keepAlive: true).get().contentLength, 7)
    }

    func test_empty_values_are_empty_and_do_not_run_into_the_next_field() throws {
        let head = try parse("GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank:   \r\nB: 2\r\n\r\n", pieceSize: 1).get()
        XCTAssertEqual(head.header("X-Empty"), "")
        XCTAssertEqual(head.header("X-Blank"), "")
        XCTAssertEqual(head.header("B"), "2")
        XCTAssertEqual(head.fields.count, 3)
        XCTAssertFalse(head.expectsContinue)
        XCTAssertNil(head.contentLength)
    }

    func test_an_obs_folded_value_stays_one_field() throws {
        let head = try parse("GET / HTTP/1.1\r\nX-Fold: first\r\n second\r\nB: 2\r\n\r\n").get()
        let folded = try XCTUnwrap(head.header("X-Fold"))
        XCTAssertTrue(folded.hasPrefix("first"), folded)
        XCTAssertTrue(folded.hasSuffix("second"), folded)
        XCTAssertEqual(head.header("B"), "2")
        XCTAssertEqual(head.fields.count, 2)
    }

    func test_nul_in_a_value_is_refused_by_the_parser_and_kept_by_the_reader() throws {
        guard case .failure = parse(Array("GET / HTTP/1.1\r\nX-Nul: a".utf8) + [0] + Array("b\r\n\r\n".utf8)) else { return XCTFail("accepted") }
        var reader = RequestHeadReader(limits: HTTPLimits())
        XCTAssertNil(Array("X-Nul".utf8).withUnsafeBytes { reader.field($0) })
        XCTAssertNil(([0x61, 0, 0x62] as [UInt8]).withUnsafeBytes { reader.value($0) })
        XCTAssertEqual(try reader.complete(method: .get, keepAlive: true).get().header("x-nul"), "a\u{0}b")
    }

    func test_nul_or_non_ascii_in_a_name_is_400() {
        for name in [[0x58, 0, 0x41], Array("Ünicode".utf8), [0x58, 0xff]] as [[UInt8]] {
            var reader = RequestHeadReader(limits: HTTPLimits())
            XCTAssertNil(name.withUnsafeBytes { reader.field($0) })
            XCTAssertNil(Array("v".utf8).withUnsafeBytes { reader.value($0) })
            guard case .failure(let refusal) = reader.complete(method: .get, keepAlive: true) else { return XCTFail("accepted \(name)") }
            XCTAssertEqual(refusal.status, 400)
        }
    }

    func test_non_ascii_bytes_in_a_value_come_back_as_the_strings_did() throws {
        let raw = Array("GET / HTTP/1.1\r\nX-Utf8: caf\u{e9}\r\nX-Bad: a".utf8) + [0xff, 0xfe] + Array("b\r\n\r\n".utf8)
        let head = try parse(raw).get()
        XCTAssertEqual(head.header("X-Utf8"), "caf\u{e9}")
        XCTAssertEqual(head.header("X-Bad"), String(decoding: [0x61, 0xff, 0xfe, 0x62] as [UInt8], as: UTF8.self))
    }

    func test_a_target_of_the_maximum_length_is_taken_and_one_byte_more_is_414() throws {
        let limits = HTTPLimits()
        let query = "?n=" + String(repeating: "q", count: 100)
        let path = "/v2/" + String(repeating: "a", count: limits.maxTargetBytes - 4 - query.utf8.count)
        let head = try parse("GET \(path)\(query) HTTP/1.1\r\nHost: x\r\n\r\n", pieceSize: 4_096).get()
        XCTAssertEqual(head.target.utf8.count, limits.maxTargetBytes)
        XCTAssertEqual(String(head.path), path)
        XCTAssertEqual(String(head.query), String(query.dropFirst()))
        XCTAssertEqual(head.header("host"), "x")
        guard case .failure(.refused(let refusal)) = parse("GET \(path)a\(query) HTTP/1.1\r\n\r\n") else { return XCTFail("accepted") }
        XCTAssertEqual(refusal.status, 414)
    }

    func test_a_head_kept_by_a_handler_is_unchanged_when_the_reader_reads_the_next_one() throws {
        var reader = RequestHeadReader(limits: HTTPLimits())
        func feed(_ target: String, _ name: String, _ value: String) {
            _ = Array(target.utf8).withUnsafeBytes { reader.target($0) }
            _ = Array(name.utf8).withUnsafeBytes { reader.field($0) }
            _ = Array(value.utf8).withUnsafeBytes { reader.value($0) }
        }
        feed("/first", "If-None-Match", "\"one\"")
        let first = try reader.complete(method: .get, keepAlive: true).get()
        reader.reset()
        feed("/second", "Range", "bytes=0-1")
        let second = try reader.complete(method: .get, keepAlive: true).get()
        XCTAssertEqual(first.header("If-None-Match"), "\"one\"")
        XCTAssertNil(first.header("Range"))
        XCTAssertEqual(second.header("Range"), "bytes=0-1")
        XCTAssertNil(second.header("If-None-Match"))
    }

    func test_transfer_coding_and_expect_are_read_from_the_bytes() throws {
        let chunked = try parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip ,\t CHUNKED \r\nExpect:  100-Continue\t\r\n\r\n").get()
        XCTAssertTrue(chunked.isChunked)
        XCTAssertTrue(chunked.expectsContinue)
        XCTAssertNil(chunked.framingProblem)
        var reader = RequestHeadReader(limits: HTTPLimits())
        _ = Array("Transfer-Encoding".utf8).withUnsafeBytes { reader.field($0) }
        _ = Array("chunked, gzip".utf8).withUnsafeBytes { reader.value($0) }
        guard case .failure(let refusal) = reader.complete(method: .post, keepAlive: true) else { return XCTFail("accepted") }
        XCTAssertEqual(refusal.status, 400)
    }
}

enum ParseFailure: Error {
    case refused(RequestHeadReader.Refusal)
    case parser(UInt32)
    case incomplete
}

/// What a connection does in its callbacks, keeping the first head or refusal.
private final class Events: HTTPParserEvents {
    var reader: RequestHeadReader
    var parser: UnsafeMutablePointer<http_parser>?
    var outcome: Result<HTTPRequestHead, ParseFailure>?

    init(limits: HTTPLimits) {
        reader = RequestHeadReader(limits: limits)
    }

    private func go(_ refusal: RequestHeadReader.Refusal?) -> Int32 {
        guard let refusal else { return 0 }
        outcome = .failure(.refused(refusal))
        return 1
    }

    func messageBegin() -> Int32 {
        reader.reset()
        return 0
    }

    func url(_ bytes: UnsafeRawBufferPointer) -> Int32 { go(reader.target(bytes)) }
    func headerField(_ bytes: UnsafeRawBufferPointer) -> Int32 { go(reader.field(bytes)) }
    func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 { go(reader.value(bytes)) }

    func headersComplete() -> Int32 {
        guard let parser else { return -1 }
        switch reader.complete(method: HTTPMethod(parserMethod: parser.pointee.method), keepAlive: http_should_keep_alive(parser) != 0) {
        case .success(let head):
            outcome = .success(head)
            return 1
        case .failure(let refusal):
            outcome = .failure(.refused(refusal))
            return -1
        }
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int32 { 0 }
    func messageComplete() -> Int32 { 0 }
}
