@testable import BerthHTTP
import Glibc
import XCTest

/// The response-head rules without a socket: which status, which headers, whether a body follows.
final class ResponseFramingTests: XCTestCase {
    private func request(_ method: HTTPMethod, range: String? = nil) -> HTTPRequestHead {
        HTTPRequestHead(method: method, target: "/v2/a/blobs/x", headers: range.map { [("Range", $0)] } ?? [], keepAlive: true)
    }

    private func fileResponse(status: Int = 200, size: Int64 = 1_000) -> HTTPResponse {
        HTTPResponse(status: status, body: .file(OpenFile(descriptor: open("/dev/null", O_RDONLY)), size: size))
    }

    private func header(_ response: HTTPResponse, _ name: String) -> String? {
        response.headers.first { $0.name == name }?.value
    }

    func test_a_bytes_body_goes_whole_with_its_length() {
        var response = HTTPResponse(status: 200, text: "hello")
        XCTAssertEqual(ResponseFraming.decide(&response, for: request(.get)),
                       .send(ResponseFraming(contentLength: 5, bodyStart: 0, bodyCount: 5)))
        XCTAssertTrue(response.headers.isEmpty, "a body from memory takes no Range and gains no header")
    }

    func test_head_announces_the_get_length_and_sends_no_body() {
        var bytes = HTTPResponse(status: 200, text: "hello")
        XCTAssertEqual(ResponseFraming.decide(&bytes, for: request(.head)),
                       .send(ResponseFraming(contentLength: 5, bodyStart: 0, bodyCount: 0)))
        var file = fileResponse()
        XCTAssertEqual(ResponseFraming.decide(&file, for: request(.head)),
                       .send(ResponseFraming(contentLength: 1_000, bodyStart: 0, bodyCount: 0)))
    }

    func test_204_and_304_have_no_content_length() {
        for status in [204, 304] {
            var response = HTTPResponse(status: status, headers: [("ETag", "\"x\"")])
            XCTAssertEqual(ResponseFraming.decide(&response, for: request(.get)),
                           .send(ResponseFraming(contentLength: nil, bodyStart: 0, bodyCount: 0)), "\(status)")
        }
        var created = HTTPResponse(status: 201)
        XCTAssertEqual(ResponseFraming.decide(&created, for: request(.put)),
                       .send(ResponseFraming(contentLength: 0, bodyStart: 0, bodyCount: 0)))
    }

    func test_a_file_says_it_accepts_ranges() {
        var response = fileResponse()
        XCTAssertEqual(ResponseFraming.decide(&response, for: request(.get)),
                       .send(ResponseFraming(contentLength: 1_000, bodyStart: 0, bodyCount: 1_000)))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(header(response, "Accept-Ranges"), "bytes")
        XCTAssertNil(header(response, "Content-Range"))
    }

    func test_a_satisfiable_range_is_206_with_its_content_range_and_only_its_bytes() {
        var response = fileResponse()
        XCTAssertEqual(ResponseFraming.decide(&response, for: request(.get, range: "bytes=100-199")),
                       .send(ResponseFraming(contentLength: 100, bodyStart: 100, bodyCount: 100)))
        XCTAssertEqual(response.status, 206)
        XCTAssertEqual(header(response, "Content-Range"), "bytes 100-199/1000")
    }

    func test_a_suffix_range_on_head_is_206_without_a_body() {
        var response = fileResponse()
        XCTAssertEqual(ResponseFraming.decide(&response, for: request(.head, range: "bytes=-10")),
                       .send(ResponseFraming(contentLength: 10, bodyStart: 990, bodyCount: 0)))
        XCTAssertEqual(response.status, 206)
    }

    func test_a_range_past_the_end_is_416() {
        var response = fileResponse()
        XCTAssertEqual(ResponseFraming.decide(&response, for: request(.get, range: "bytes=1000-")),
                       .rangeNotSatisfiable(header: "bytes=1000-", size: 1_000))
    }

    func test_a_range_on_an_answer_that_is_not_200_is_ignored() {
        var response = fileResponse(status: 201)
        XCTAssertEqual(ResponseFraming.decide(&response, for: request(.get, range: "bytes=0-0")),
                       .send(ResponseFraming(contentLength: 1_000, bodyStart: 0, bodyCount: 1_000)))
        XCTAssertEqual(response.status, 201)
    }

    func test_a_multipart_range_is_ignored_and_the_whole_file_sent() {
        var response = fileResponse()
        XCTAssertEqual(ResponseFraming.decide(&response, for: request(.get, range: "bytes=0-1,5-6")),
                       .send(ResponseFraming(contentLength: 1_000, bodyStart: 0, bodyCount: 1_000)))
        XCTAssertEqual(response.status, 200)
    }
}
