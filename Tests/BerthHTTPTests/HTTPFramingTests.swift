@testable import BerthHTTP
import BerthTestSupport
import XCTest

/// Heads whose framing Berth and http-parser could read differently are refused with 400 and a close
/// (RFC 9112 §5.1, §6.1, §6.3: request smuggling).
final class HTTPFramingTests: XCTestCase {
    var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer()
    }

    override func tearDown() {
        server.stop()
    }

    func test_whitespace_between_a_field_name_and_the_colon_is_400_and_the_body_is_not_taken() throws {
        // http-parser frames the 5 bytes by this field, which the head would not show as Content-Length.
        try assertRefused("PATCH /u HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello")
    }

    func test_transfer_encoding_with_whitespace_before_the_colon_is_400() throws {
        try assertRefused("PUT /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    }

    func test_whitespace_inside_any_field_name_is_400() throws {
        try assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX Forwarded: 1\r\n\r\n")
    }

    func test_a_field_name_with_whitespace_is_400_when_fed_one_byte_at_a_time() throws {
        let client = try TestClient(port: server.port)
        for byte in "GET / HTTP/1.1\r\nHost: x\r\nAccept : */*\r\n\r\n".utf8 { client.send([byte]) }
        let text = client.receiveAll()
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 400 "), text)
    }

    func test_a_delimiter_in_a_field_name_is_400() throws {
        try assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX(a): 1\r\n\r\n")
        try assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX\"a\": 1\r\n\r\n")
    }

    func test_duplicate_content_length_with_different_values_is_400() throws {
        try assertRefused("PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
    }

    func test_content_length_with_transfer_encoding_is_400() throws {
        try assertRefused("PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        try assertRefused("PUT /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n")
    }

    func test_a_request_whose_final_transfer_coding_is_not_chunked_is_400_before_the_handler_sees_it() throws {
        // `/now` answers at once: a handler that saw the head would answer 200 before http-parser's own refusal.
        try assertRefused("PUT /now HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
        try assertRefused("PUT /now HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n")
        try assertRefused("PUT /now HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n")
    }

    func test_the_final_transfer_coding_chunked_is_read_in_any_case() throws {
        let client = try TestClient(port: server.port)
        client.send("PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n2\r\nab\r\n0\r\n\r\n")
        XCTAssertTrue(client.receive(until: "PUT /c 2").hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    func test_token_characters_in_field_names_are_accepted() throws {
        let client = try TestClient(port: server.port)
        client.send("POST /t HTTP/1.1\r\nHost: x\r\nX-a.b_c!#$%&'*+^`|~9: v\r\ncontent-length: 2\r\n\r\nok")
        XCTAssertTrue(client.receive(until: "POST /t 2").hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    func test_field_names_are_tokens() {
        XCTAssertTrue(Array("Content-Length".utf8).withUnsafeBufferPointer(HTTPRequestHead.isFieldName))
        XCTAssertTrue(Array("x!#$%&'*+-.^_`|~09".utf8).withUnsafeBufferPointer(HTTPRequestHead.isFieldName))
        for name in ["", "Content-Length ", " Host", "A\tB", "a:b", "a(b", "a)b", "a,b", "a/b", "a;b", "a<b", "a=b", "a>b",
                     "a?b", "a@b", "a[b", "a\\b", "a]b", "a{b", "a}b", "a\"b", "a\u{7f}b", "a\u{0}b", "é"] {
            XCTAssertFalse(Array(name.utf8).withUnsafeBufferPointer(HTTPRequestHead.isFieldName), name)
        }
    }

    /// Every byte against RFC 9110 §5.6.2's tchar list, spelled out (isFieldName looks bytes up in a bit mask).
    func test_every_byte_is_a_tchar_exactly_as_the_rfc_lists() {
        let tchar = Set(Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8))
        for byte in UInt8.min...UInt8.max {
            XCTAssertEqual([byte].withUnsafeBufferPointer(HTTPRequestHead.isFieldName), tchar.contains(byte), "byte \(byte)")
        }
    }

    /// The head is answered 400 with a close, and nothing of it reaches the handler (the echo would show it).
    private func assertRefused(_ request: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let client = try TestClient(port: server.port)
        client.send(request)
        let text = client.receiveAll()
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 400 "), text, file: file, line: line)
        XCTAssertTrue(text.contains("Connection: close\r\n"), text, file: file, line: line)
        XCTAssertFalse(text.contains(" /u ") || text.contains("GET / ") || text.contains("seen"), "the handler saw the request: \(text)", file: file, line: line)
    }
}
