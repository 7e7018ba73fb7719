@testable import BerthHTTP
import Foundation
import XCTest

final class AccessLogTests: XCTestCase {
    private func decoded(_ literal: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
        return try XCTUnwrap(object?.first)
    }

    func test_every_single_byte_is_escaped_to_a_json_string_that_reads_back() throws {
        for byte in UInt8(0)...UInt8(255) {
            let literal = JSONString.quoted(bytes: [UInt8(ascii: "a"), byte, UInt8(ascii: "b")])
            XCTAssertFalse(literal.utf8.contains { $0 < 0x20 || $0 == 0x7f }, "raw control byte for \(byte)")
            let expected = String(decoding: [UInt8(ascii: "a"), byte, UInt8(ascii: "b")], as: UTF8.self)
            XCTAssertEqual(try decoded(literal), expected, "byte \(byte)")
        }
    }

    func test_quotes_backslashes_line_separators_and_invalid_utf8_from_a_hostile_client_stay_one_string() throws {
        let hostile: [UInt8] = Array("\"}\\\n\r\t{\"x\":1}".utf8) + [0xff, 0xc3, 0x28, 0xe2, 0x80, 0xa8, 0xed, 0xa0, 0x80, 0x00]
        let literal = JSONString.quoted(bytes: hostile)
        XCTAssertFalse(literal.contains("\n"))
        XCTAssertFalse(literal.contains("\u{2028}"))
        XCTAssertEqual(try decoded(literal), String(decoding: hostile, as: UTF8.self))
        XCTAssertEqual(JSONString.quoted("é✓"), "\"é✓\"")
    }

    func test_random_bytes_always_make_a_valid_json_string() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<24, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            XCTAssertEqual(try decoded(JSONString.quoted(bytes: bytes)), String(decoding: bytes, as: UTF8.self))
        }
    }

    private func line(status: Int?, target: String = "/v2/a/blobs/uploads/x?digest=sha256%3Aab") -> AccessLine {
        AccessLine(client: "127.0.0.1:5678", method: "PATCH", target: target, status: status, bytesSent: 12,
                   bytesReceived: 50_000, micros: 1_234_567, userAgent: "ua \"quoted\"", note: ("cache", "hit"))
    }

    func test_the_text_line_keeps_todays_format() {
        XCTAssertEqual(line(status: 202).text, "127.0.0.1:5678 \"PATCH /v2/a/blobs/uploads/x?digest=sha256%3Aab\" 202 12 1234567us")
        XCTAssertEqual(line(status: nil).text,
                       "127.0.0.1:5678 \"PATCH /v2/a/blobs/uploads/x?digest=sha256%3Aab\" aborted 12 1234567us after 50000 bytes received")
    }

    func test_the_json_fields_make_one_object_with_every_field() throws {
        let json = Log.jsonLine(.info, "access", fields: line(status: 202).jsonFields)
        XCTAssertTrue(json.hasSuffix("}\n"))
        XCTAssertEqual(json.filter { $0 == "\n" }.count, 1)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["msg"] as? String, "access")
        XCTAssertEqual(object["method"] as? String, "PATCH")
        XCTAssertEqual(object["path"] as? String, "/v2/a/blobs/uploads/x?digest=sha256%3Aab")
        XCTAssertEqual(object["status"] as? Int, 202)
        XCTAssertEqual(object["bytes"] as? Int, 12)
        XCTAssertEqual(object["bytes_received"] as? Int, 50_000)
        XCTAssertEqual(try XCTUnwrap(object["duration"] as? Double), 1.234567, accuracy: 1e-9)
        XCTAssertEqual(object["client"] as? String, "127.0.0.1:5678")
        XCTAssertEqual(object["user_agent"] as? String, "ua \"quoted\"")
        XCTAssertEqual(object["cache"] as? String, "hit")
        XCTAssertNil(object["aborted"])

        let aborted = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(Log.jsonLine(.info, "aborted", fields: line(status: nil).jsonFields).utf8)) as? [String: Any])
        XCTAssertEqual(aborted["status"] as? Int, 499)
        XCTAssertEqual(aborted["aborted"] as? Bool, true)
    }

    func test_a_short_duration_keeps_its_leading_zeros() throws {
        var short = line(status: 200)
        short.micros = 42
        XCTAssertTrue(short.jsonFields.contains(",\"duration\":0.000042,"), short.jsonFields)
    }

    func test_credentials_in_the_query_are_redacted_and_nothing_else_is_changed() {
        XCTAssertEqual(AccessLine.redactingCredentials("/v2/a/blobs/sha256:ab?ns=docker.io&token=s3cr3t&X-Amz-Signature=abc&n=5"),
                       "/v2/a/blobs/sha256:ab?ns=docker.io&token=REDACTED&X-Amz-Signature=REDACTED&n=5")
        for target in ["/v2/", "/v2/a/tags/list?n=5&last=b", "/v2/a/blobs/uploads/x?digest=sha256%3Aab&&tokenish=1", "/v2/?", "/v2/?token"] {
            XCTAssertEqual(AccessLine.redactingCredentials(target), target)
        }
    }
}
