@testable import BerthHTTP
import CBerthShims
import Foundation
import Glibc
import XCTest

/// The HTTP layer on a real loop and a real socket, driven byte for byte by a blocking client.
final class HTTPServerTests: XCTestCase {
    var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer()
    }

    override func tearDown() {
        server.stop()
    }

    func test_pipelined_requests_are_answered_in_order() throws {
        let client = try TestClient(port: server.port)
        client.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = client.receive(until: "GET /two 0")
        let one = try XCTUnwrap(text.range(of: "GET /one 0"))
        let two = try XCTUnwrap(text.range(of: "GET /two 0"))
        XCTAssertLessThan(one.lowerBound, two.lowerBound)
    }

    func test_request_fed_one_byte_at_a_time_is_parsed() throws {
        let client = try TestClient(port: server.port)
        for byte in "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".utf8 {
            client.send([byte])
        }
        XCTAssertTrue(client.receive(until: "POST /slow 5").hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    func test_chunked_body_is_delivered_whole() throws {
        let client = try TestClient(port: server.port)
        client.send("PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
        XCTAssertTrue(client.receive(until: "PUT /c 7").contains("200 OK"))
    }

    func test_expect_continue_gets_an_interim_response_before_the_body() throws {
        let client = try TestClient(port: server.port)
        client.send("PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertTrue(client.receive(until: "\r\n\r\n").hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
        client.send("abc")
        XCTAssertTrue(client.receive(until: "PUT /e 3").contains("200 OK"))
    }

    func test_oversized_headers_are_431_and_the_connection_closes() throws {
        let client = try TestClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n")
        let text = client.receiveAll()
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 431 "), text)
        XCTAssertTrue(text.contains("Connection: close"))
    }

    func test_too_many_header_fields_are_431() throws {
        let client = try TestClient(port: server.port)
        let fields = (0..<300).map { "X-\($0): v\r\n" }.joined()
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n")
        XCTAssertTrue(client.receiveAll().hasPrefix("HTTP/1.1 431 "))
    }

    func test_malformed_request_line_is_400_and_the_connection_closes() throws {
        let client = try TestClient(port: server.port)
        client.send("GARBAGE\r\n\r\n")
        let text = client.receiveAll()
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 400 "), text)
        XCTAssertTrue(text.contains("Connection: close"))
    }

    func test_collected_body_over_its_limit_is_refused() throws {
        let client = try TestClient(port: server.port)
        client.send("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
        XCTAssertTrue(client.receive(until: "PUT /big -1").contains("200 OK"))
    }

    func test_range_request_on_a_file_is_206_with_content_range() throws {
        let client = try TestClient(port: server.port)
        client.send("GET /file HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\n\r\n")
        let text = client.receive(until: "2345")
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 206 "), text)
        XCTAssertTrue(text.contains("Content-Range: bytes 2-5/10\r\n"))
        XCTAssertTrue(text.contains("Content-Length: 4\r\n"))
    }

    func test_unsatisfiable_range_is_416_with_the_size() throws {
        let client = try TestClient(port: server.port)
        client.send("GET /file HTTP/1.1\r\nHost: x\r\nRange: bytes=10-\r\n\r\n")
        let text = client.receive(until: "\r\n\r\n")
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 416 "), text)
        XCTAssertTrue(text.contains("Content-Range: bytes */10\r\n"))
    }

    func test_head_reports_the_length_without_a_body() throws {
        let client = try TestClient(port: server.port)
        client.send("HEAD /file HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = client.receive(until: "GET /after 0")
        XCTAssertTrue(text.contains("Content-Length: 10\r\n"))
        XCTAssertFalse(text.contains("0123456789"))
    }

    func test_medium_file_is_sent_whole_from_the_loop_as_the_socket_drains() throws {
        let client = try TestClient(port: server.port)
        client.send("GET /medium HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.2)  // let the socket fill so sendfile meets EAGAIN
        let bytes = client.receiveAllBytes()
        let head = try XCTUnwrap(bytes.firstRange(of: Array("\r\n\r\n".utf8)))
        XCTAssertEqual(Array(bytes[head.upperBound...]), Array(server.largeFile.prefix(768 * 1024)))
    }

    func test_large_file_is_sent_whole_by_sendfile() throws {
        let descriptor = try openForReading(server.largePath)
        defer { close(descriptor) }
        XCTAssertEqual(berth_is_cached(descriptor, 8 << 20 - 1), 1, "just written: in the page cache")
        try assertLargeFileSentWhole()
    }

    func test_large_file_that_must_come_from_the_disk_is_sent_whole() throws {
        let descriptor = try openForReading(server.largePath)
        defer { close(descriptor) }
        XCTAssertEqual(fsync(descriptor), 0)
        XCTAssertEqual(posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED), 0)
        XCTAssertEqual(berth_is_cached(descriptor, 4 << 20), 0, "dropped from the page cache")
        try assertLargeFileSentWhole()
    }

    func test_a_reader_that_stops_taking_a_large_file_is_cut_after_the_progress_window() throws {
        server.stop()
        var limits = HTTPLimits()
        limits.progress = ProgressRule(windowMilliseconds: 1000, minimumBytes: 64 * 1024)
        server = try TestServer(limits: limits)
        let client = try TestClient(port: server.port, receiveBuffer: 4096)
        client.send("GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 3.5)  // the deadline is checked every second
        let (bytes, closedByServer) = client.receiveUntilClosed()
        XCTAssertTrue(closedByServer, "the stalled connection is still open")
        XCTAssertLessThan(bytes.count, server.largeFile.count, "the transfer was cut, not finished")
    }

    func test_after_sigquit_a_transfer_outlasts_the_drain_timeout_and_a_later_sigterm_cuts_the_rest() throws {
        server.stop()
        var limits = HTTPLimits()
        limits.drainTimeoutMilliseconds = 1000
        server = try TestServer(limits: limits)
        let retired = try TestClient(port: server.port, receiveBuffer: 4096)
        let stopped = try TestClient(port: server.port, receiveBuffer: 4096)
        var started: [Int] = []
        for client in [retired, stopped] {
            client.send("GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
            let (head, body) = client.receiveHead()
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"), head)
            started.append(body)
        }
        server.beginShutdown(signal: SIGQUIT) // a reload retiring this worker
        Thread.sleep(forTimeInterval: 3.5)  // past the drain timeout; the deadline is checked every second
        let (rest, closed) = retired.receiveUntilClosed()
        XCTAssertTrue(closed, "the connection stays open after its answer while draining")
        XCTAssertEqual(started[0] + rest.count, server.largeFile.count, "the transfer was cut")
        server.beginShutdown(signal: SIGTERM) // the supervisor stopping: now the deadline holds
        Thread.sleep(forTimeInterval: 3.5)
        let (bytes, cut) = stopped.receiveUntilClosed()
        XCTAssertTrue(cut, "the stalled connection is still open after SIGTERM")
        XCTAssertLessThan(started[1] + bytes.count, server.largeFile.count, "the transfer was cut, not finished")
    }

    private func assertLargeFileSentWhole() throws {
        let client = try TestClient(port: server.port)
        client.send("GET /large HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let bytes = client.receiveAllBytes()
        let head = try XCTUnwrap(bytes.firstRange(of: Array("\r\n\r\n".utf8)))
        XCTAssertEqual(Array(bytes[head.upperBound...]), server.largeFile)
    }

    private func openForReading(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw POSIXError(.ENOENT) }
        return descriptor
    }
}

/// Answers `<method> <target> <body length>`; `/file` is a 10-byte file, `/medium` 768 KiB, `/large` 8 MiB;
/// `/now` answers `seen` as soon as the head is in, without waiting for a body; `/memory` is 4 MiB from memory;
/// `/paused` holds the body back for 2.5 s after its first bytes, as a disk that is behind does.
final class EchoHandler: HTTPHandler {
    let smallPath: String
    let mediumPath: String
    let largePath: String

    init(smallPath: String, mediumPath: String, largePath: String) {
        self.smallPath = smallPath
        self.mediumPath = mediumPath
        self.largePath = largePath
    }

    func handle(_ exchange: HTTPExchange) {
        let request = exchange.request
        if request.path == "/file" || request.path == "/large" || request.path == "/medium" {
            let fd = open(request.path == "/file" ? smallPath : request.path == "/medium" ? mediumPath : largePath, O_RDONLY)
            var info = stat()
            fstat(fd, &info)
            exchange.respond(HTTPResponse(status: 200, body: .file(OpenFile(descriptor: fd), size: Int64(info.st_size))))
            return
        }
        if request.path == "/memory" {
            exchange.respond(HTTPResponse(status: 200, body: .bytes(Array(TestServer.largeContent.prefix(4 << 20)))))
            return
        }
        if request.path == "/paused" {
            exchange.receiveBody(into: PausingReceiver())
            return
        }
        if request.path == "/now" {
            exchange.respond(HTTPResponse(status: 200, text: "seen"))
            return
        }
        exchange.collectBody(limit: 1 << 20) { body in
            exchange.respond(HTTPResponse(status: 200, text: "\(request.method.name) \(request.target) \(body?.count ?? -1)"))
        }
    }

    func protocolError(status: Int, message: String) -> HTTPResponse {
        HTTPResponse(status: status, text: message)
    }
}

/// Pauses the body after its first bytes and resumes it 2.5 s later; answers the body's length.
final class PausingReceiver: HTTPBodyReceiver {
    private var count = 0
    private var timer: RepeatingTimer?

    func receive(_ bytes: UnsafeRawBufferPointer, exchange: HTTPExchange) {
        count += bytes.count
        guard timer == nil else { return }
        exchange.pauseBody()
        timer = exchange.loop.repeating(every: 2500) { [unowned self] in
            timer?.stop()
            exchange.resumeBody()
        }
    }

    func finish(exchange: HTTPExchange) {
        exchange.respond(HTTPResponse(status: 200, text: "received \(count)"))
    }

    func abort(exchange: HTTPExchange) {}
}

final class TestServer {
    let loop = EventLoop()
    let server: HTTPServer
    let port: Int
    let largeFile: [UInt8]
    private var wakeup: LoopWakeup!
    private let finished = DispatchSemaphore(value: 0)
    private let directory: String
    /// Larger than a loopback socket buffer, so sendfile meets EAGAIN and goes on as the socket drains.
    static let largeContent: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<(8 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
    }()

    var largePath: String { directory + "/large" }

    init(limits: HTTPLimits = HTTPLimits()) throws {
        // Inside the package (on the disk that holds the checkout), not /tmp, which may be a tmpfs: a test
        // drops a file from the page cache, which a tmpfs cannot do.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        directory = package.path + "/.build/berth-http-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: directory + "/small", contents: Data("0123456789".utf8))
        largeFile = TestServer.largeContent
        _ = FileManager.default.createFile(atPath: directory + "/large", contents: Data(largeFile))
        _ = FileManager.default.createFile(atPath: directory + "/medium", contents: Data(largeFile.prefix(768 * 1024)))
        let handler = EchoHandler(smallPath: directory + "/small", mediumPath: directory + "/medium", largePath: directory + "/large")
        server = HTTPServer(loop: loop, handler: handler, limits: limits)
        try server.listen(on: "127.0.0.1:0")
        port = server.boundPort
        wakeup = LoopWakeup(loop: loop) { [unowned self] in
            server.shutdown(signal: shutdownSignal)
            if stopping { wakeup.close() }
        }
        let thread = Thread { [loop, finished] in
            loop.run()
            finished.signal()
        }
        thread.start()
    }

    /// The signal the next `beginShutdown` or `stop` hands the server.
    private var shutdownSignal = SIGTERM
    private var stopping = false

    /// Starts the server's drain as `signal` would, without waiting for the loop to end.
    func beginShutdown(signal: Int32) {
        shutdownSignal = signal
        wakeup.send()
    }

    func stop() {
        shutdownSignal = SIGTERM
        stopping = true
        wakeup.send()
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success, "the loop did not end after shutdown")
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A blocking loopback client with a receive timeout, so a broken server fails a test instead of hanging it.
final class TestClient {
    let fd: Int32

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit {
        close(fd)
    }

    func send(_ text: String) {
        send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// Reads until `marker` appears, the peer closes, or the timeout passes.
    func receive(until marker: String) -> String {
        var bytes: [UInt8] = []
        while !String(decoding: bytes, as: UTF8.self).contains(marker) {
            guard let chunk = readChunk() else { break }
            bytes += chunk
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads until `marker` appears, the peer closes, or `seconds` pass without a byte.
    func receive(until marker: String, waiting seconds: Double) -> String {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(seconds * 1000)) == 1 else { return "" }
        return receive(until: marker)
    }

    /// Reads a response head; returns it and how many bytes of the body came with it.
    func receiveHead() -> (head: String, bodyBytes: Int) {
        let end = Array("\r\n\r\n".utf8)
        var bytes: [UInt8] = []
        while bytes.firstRange(of: end) == nil {
            guard let chunk = readChunk() else { return (String(decoding: bytes, as: UTF8.self), 0) }
            bytes += chunk
        }
        let head = bytes.firstRange(of: end)!
        return (String(decoding: bytes[..<head.lowerBound], as: UTF8.self), bytes.count - head.upperBound)
    }

    func receiveAll() -> String {
        String(decoding: receiveAllBytes(), as: UTF8.self)
    }

    func receiveAllBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        while let chunk = readChunk() { bytes += chunk }
        return bytes
    }

    /// Reads until the peer closes (true) or the receive timeout passes (false).
    func receiveUntilClosed() -> ([UInt8], Bool) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { bytes += buffer[..<count]; continue }
            return (bytes, count == 0 || errno == ECONNRESET)
        }
    }

    /// Waits, without reading, until the peer resets the connection (true) or `seconds` pass (false).
    func waitUntilReset(seconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: 0, revents: 0)
        return poll(&entry, 1, seconds * 1000) == 1 && entry.revents & Int16(POLLERR | POLLHUP) != 0
    }

    private func readChunk() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer[..<count]) : nil
    }
}
