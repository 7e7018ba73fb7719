@testable import BerthHTTP
import XCTest

/// The head as http-parser's callbacks hand it over in pieces: fields split anywhere, limits checked as it grows.
final class RequestHeadReaderTests: XCTestCase {
    private func feed(_ reader: inout RequestHeadReader, target: String, fields: [(String, String)], pieceSize: Int = 1)
        -> RequestHeadReader.Refusal? {
        func pieces(_ text: String, _ deliver: (UnsafeRawBufferPointer) -> RequestHeadReader.Refusal?) -> RequestHeadReader.Refusal? {
            let bytes = Array(text.utf8)
            for start in stride(from: 0, to: bytes.count, by: pieceSize) {
                let piece = bytes[start..<min(start + pieceSize, bytes.count)]
                if let refusal = piece.withUnsafeBytes(deliver) { return refusal }
            }
            return nil
        }
        if let refusal = pieces(target, { reader.target($0) }) { return refusal }
        for (name, value) in fields {
            if let refusal = pieces(name, { reader.field($0) }) { return refusal }
            if let refusal = pieces(value, { reader.value($0) }) { return refusal }
        }
        return nil
    }

    func test_a_head_fed_one_byte_at_a_time_is_whole() throws {
        var reader = RequestHeadReader(limits: HTTPLimits())
        XCTAssertNil(feed(&reader, target: "/v2/a/blobs/uploads/u?x=1", fields: [("Content-Range", "0-4"), ("Content-Length", "5")]))
        let head = try reader.complete(method: .patch, keepAlive: true).get()
        XCTAssertEqual(head.target, "/v2/a/blobs/uploads/u?x=1")
        XCTAssertEqual(head.header("content-range"), "0-4")
        XCTAssertEqual(head.contentLength, 5)
    }

    func test_a_fields_bytes_are_the_first_value_of_that_name_in_any_case() throws {
        var reader = RequestHeadReader(limits: HTTPLimits())
        XCTAssertNil(feed(&reader, target: "/v2/", fields: [("AUTHORIZATION", "Bearer a.b.c"), ("Authorization", "Basic dTpw")], pieceSize: 3))
        let head = try reader.complete(method: .get, keepAlive: true).get()
        XCTAssertEqual(head.withHeaderBytes("Authorization") { String(decoding: $0, as: UTF8.self) }, "Bearer a.b.c")
        XCTAssertNil(head.withHeaderBytes("Authorizatio") { _ in true })
        XCTAssertEqual(head.withHeaderBytes("authorization") { $0.count }, 12)
    }

    func test_a_field_name_with_a_space_before_the_colon_is_400() {
        var reader = RequestHeadReader(limits: HTTPLimits())
        XCTAssertNil(feed(&reader, target: "/", fields: [("Content-Length ", "5")]))
        guard case .failure(let refusal) = reader.complete(method: .put, keepAlive: true) else { return XCTFail("accepted") }
        XCTAssertEqual(refusal.status, 400)
    }

    func test_a_content_length_past_int64_is_413() {
        var reader = RequestHeadReader(limits: HTTPLimits())
        XCTAssertNil(feed(&reader, target: "/", fields: [("Content-Length", "9223372036854775808")], pieceSize: 4))
        guard case .failure(let refusal) = reader.complete(method: .put, keepAlive: true) else { return XCTFail("accepted") }
        XCTAssertEqual(refusal.status, 413)
    }

    func test_limits_are_checked_as_the_head_grows() {
        var limits = HTTPLimits()
        limits.maxTargetBytes = 8
        limits.maxHeaderCount = 2
        var reader = RequestHeadReader(limits: limits)
        XCTAssertEqual(feed(&reader, target: "/v2/too/long", fields: [])?.status, 414)
        reader.reset()
        XCTAssertEqual(feed(&reader, target: "/", fields: [("A", "1"), ("B", "2"), ("C", "3")], pieceSize: 64)?.status, 431)
    }

    func test_reset_starts_a_new_head() throws {
        var reader = RequestHeadReader(limits: HTTPLimits())
        XCTAssertNil(feed(&reader, target: "/first", fields: [("A", "1")]))
        _ = reader.complete(method: .get, keepAlive: true)
        reader.reset()
        XCTAssertNil(feed(&reader, target: "/second", fields: []))
        let head = try reader.complete(method: .get, keepAlive: true).get()
        XCTAssertEqual(head.target, "/second")
        XCTAssertNil(head.header("A"))
    }
}
