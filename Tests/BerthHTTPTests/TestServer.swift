@testable import BerthHTTP
import BerthTestSupport
import Foundation
import Glibc
import XCTest

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
        if request.path == "/held" || request.path == "/held-refused" {
            // As the htpasswd gate does: the body held back while a check runs off the loop, then taken or dropped.
            exchange.holdBody()
            var timer: RepeatingTimer?
            timer = exchange.loop.repeating(every: 300) {
                timer?.stop()
                timer = nil
                if request.path == "/held-refused" {
                    exchange.releaseHeldBody()
                    exchange.respond(HTTPResponse(status: 401, text: "refused"))
                    return
                }
                exchange.collectBody(limit: 1 << 20) { body in
                    let sum = body.map { $0.reduce(0) { ($0 &* 31) &+ Int($1) } } ?? -1
                    exchange.respond(HTTPResponse(status: 200, text: "held \(body?.count ?? -1) \(sum)"))
                }
            }
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

/// An `HTTPServer` with `EchoHandler` on a loop thread of its own, on a free port, with its files on a real
/// disk (a test drops a file from the page cache, which a tmpfs cannot do).
final class TestServer {
    let thread = LoopThread()
    let server: HTTPServer
    let port: Int
    let largeFile: [UInt8]
    private let directory: String
    /// Larger than a loopback socket buffer, so sendfile meets EAGAIN and goes on as the socket drains.
    static let largeContent: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<(8 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
    }()

    var largePath: String { directory + "/large" }

    init(limits: HTTPLimits = HTTPLimits()) throws {
        directory = try TemporaryDirectory.make("berth-http", onDisk: true)
        _ = FileManager.default.createFile(atPath: directory + "/small", contents: Data("0123456789".utf8))
        largeFile = TestServer.largeContent
        _ = FileManager.default.createFile(atPath: directory + "/large", contents: Data(largeFile))
        _ = FileManager.default.createFile(atPath: directory + "/medium", contents: Data(largeFile.prefix(768 * 1024)))
        let handler = EchoHandler(smallPath: directory + "/small", mediumPath: directory + "/medium", largePath: directory + "/large")
        server = HTTPServer(loop: thread.loop, handler: handler, limits: limits)
        try server.listen(on: "127.0.0.1:0")
        port = server.boundPort
        thread.start()
    }

    /// Starts the server's drain as `signal` would, without waiting for the loop to end.
    func beginShutdown(signal: Int32) {
        thread.perform { [server] in server.shutdown(signal: signal) }
    }

    /// Waits until the server holds at most `count` open connections (a deadline cut the others, or it saw
    /// their close); false after `seconds`.
    func waitUntil(openConnections count: Int, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if thread.sync({ [server] in server.openConnections }) <= count { return true }
            usleep(20_000)
        }
        return false
    }

    /// Waits until the first bytes of an answer are in `client`'s receive queue, unread, then until the loop
    /// has gone round twice: by then the callback that wrote them, and the sendfile after the head, are done.
    func waitUntilAnswerStarted(_ client: TestClient, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while client.unreadBytes <= 0 {
            guard Date() < deadline else { return false }
            usleep(5_000)
        }
        thread.sync {}
        thread.sync {}
        return true
    }

    func stop() {
        thread.stop(after: { [server] in server.shutdown(signal: SIGTERM) })
        TemporaryDirectory.remove(directory)
    }
}
