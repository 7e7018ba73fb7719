@testable import BerthUpstream
import BerthTestSupport
import Foundation
import XCTest

/// Requests through the client or the registry flow, run on the test's loop until they end.
extension LoopHarness {
    /// Sends one request and runs the loop until its handler has ended.
    @discardableResult
    func send(_ client: UpstreamClient, _ url: String, method: String = "GET", headers: [(name: String, value: String)] = [],
              body: [UInt8]? = nil, handler: RecordingHandler = RecordingHandler(),
              file: StaticString = #filePath, line: UInt = #line) -> RecordingHandler {
        guard let target = UpstreamURL(url) else {
            XCTFail("bad URL \(url)", file: file, line: line)
            return handler
        }
        client.send(UpstreamRequest(method: method, url: target, headers: headers, body: body), to: handler)
        run(until: { handler.ended }, "the end of \(method) \(url)", file: file, line: line)
        XCTAssertEqual(handler.endCount, 1, "end must come exactly once", file: file, line: line)
        XCTAssertEqual(handler.callsAfterEnd, 0, "no call may follow end", file: file, line: line)
        return handler
    }

    @discardableResult
    func fetch(_ upstream: RegistryClient, _ path: String, method: String = "GET", headers: [(name: String, value: String)] = [],
               body: [UInt8]? = nil, handler: RecordingHandler = RecordingHandler(),
               file: StaticString = #filePath, line: UInt = #line) -> RecordingHandler {
        upstream.fetch(method, path, headers: headers, body: body, handler: handler)
        run(until: { handler.ended }, "the end of \(method) \(path)", file: file, line: line)
        XCTAssertEqual(handler.endCount, 1, "end must come exactly once", file: file, line: line)
        XCTAssertEqual(handler.callsAfterEnd, 0, "no call may follow end", file: file, line: line)
        return handler
    }
}
