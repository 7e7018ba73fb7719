@testable import BerthHTTP
@testable import BerthUpstream
import CLibUV
import Foundation
import XCTest

/// Runs a loop on the test's own thread, so everything loop-confined stays on one thread, until a
/// condition holds. The 30 s limit only keeps a broken client from hanging the suite; nothing is timed.
final class LoopHarness {
    let loop = EventLoop()

    func run(until condition: () -> Bool, _ what: String = "the expected state", file: StaticString = #filePath, line: UInt = #line) {
        // Wakes uv_run at least every 20 ms so the condition is checked even when nothing happens.
        let ticker = loop.repeating(every: 20) {}
        let deadline = Date().addingTimeInterval(30)
        while !condition() && Date() < deadline {
            uv_run(loop.raw, UV_RUN_ONCE)
        }
        ticker.stop()
        XCTAssertTrue(condition(), "the loop did not reach \(what) within 30 s", file: file, line: line)
    }

    /// Runs `body`'s loop work for at least `milliseconds`: a wait for something to *not* happen.
    func run(forMilliseconds milliseconds: UInt64) {
        var fired = false
        let timer = loop.repeating(every: milliseconds) { fired = true }
        run(until: { fired }, "a timer")
        timer.stop()
    }

    /// After a client's shutdown, every handle must close: the loop ends with nothing alive.
    func drain(file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(10)
        while uv_loop_alive(loop.raw) != 0 && Date() < deadline {
            uv_run(loop.raw, UV_RUN_NOWAIT)
            usleep(1000)
        }
        XCTAssertEqual(uv_loop_alive(loop.raw), 0, "handles or requests still open after shutdown", file: file, line: line)
    }
}

/// Records what a handler is told, and checks the protocol of the calls as it goes.
final class RecordingHandler: UpstreamResponseHandler {
    var status: Int?
    var headers = UpstreamHeaders()
    var body: [UInt8] = []
    var error: UpstreamError?
    var endCount = 0
    var callsAfterEnd = 0
    var bodyCallsWhilePaused = 0
    private(set) var exchange: UpstreamExchange?
    var onHead: ((UpstreamExchange) -> Void)?
    var onBody: ((RecordingHandler, UpstreamExchange, UnsafeRawBufferPointer) -> Void)?
    /// Set to check the body as it streams instead of keeping it (large transfers).
    var verifier: PatternVerifier?

    var ended: Bool { endCount > 0 }
    var text: String { String(decoding: body, as: UTF8.self) }

    func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        if ended { callsAfterEnd += 1 }
        self.status = status
        self.headers = headers
        self.exchange = exchange
        onHead?(exchange)
    }

    func body(_ bytes: UnsafeRawBufferPointer) {
        if ended { callsAfterEnd += 1 }
        if exchange?.isPaused == true { bodyCallsWhilePaused += 1 }
        if let verifier { verifier.check(bytes) } else { body.append(contentsOf: bytes) }
        if let exchange { onBody?(self, exchange, bytes) }
    }

    func end(error: UpstreamError?) {
        endCount += 1
        self.error = error
    }

    /// The echo endpoint's JSON answer.
    var echo: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
    }

    var echoedHeaders: [String: String] {
        (echo["headers"] as? [String: String]) ?? [:]
    }
}

/// Checks a body against the peer's pattern (byte i is i mod 251) without keeping it.
final class PatternVerifier {
    private static let pattern: [UInt8] = (0..<(251 * 520)).map { UInt8($0 % 251) }
    private(set) var count = 0
    private(set) var mismatches = 0

    func check(_ bytes: UnsafeRawBufferPointer) {
        var done = 0
        while done < bytes.count {
            let phase = (count + done) % 251
            let length = min(bytes.count - done, Self.pattern.count - phase)
            let equal = Self.pattern.withUnsafeBytes { pattern in
                memcmp(pattern.baseAddress! + phase, bytes.baseAddress! + done, length) == 0
            }
            if !equal { mismatches += 1 }
            done += length
        }
        count += bytes.count
    }
}

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

/// A port nothing listens on: bound by us, then released.
func unusedLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
