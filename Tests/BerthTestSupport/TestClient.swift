import Foundation
import Glibc

/// A blocking loopback client speaking raw bytes, with a receive timeout, so a broken server fails a test
/// instead of hanging it.
public final class TestClient {
    public let fd: Int32

    /// `receiveTimeout`: seconds without a byte before a read gives up (a guard against a hang, never a
    /// measure: make it long where the bytes come from a disk a loaded machine may stall).
    public init(port: Int, receiveBuffer: Int32? = nil, receiveTimeout: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
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
        guard status == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit {
        close(fd)
    }

    /// Waits until something accepts connections on `port`, while `alive` holds (the process that should
    /// listen is still running); false when it never does within `seconds`.
    public static func waitUntilListening(port: Int, seconds: Double = 15, while alive: () -> Bool = { true }) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && alive() {
            if (try? TestClient(port: port)) != nil { return true }
            usleep(20_000)
        }
        return false
    }

    public func send(_ text: String) {
        send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// Reads until `marker` appears, the peer closes, or the timeout passes.
    public func receive(until marker: String) -> String {
        var bytes: [UInt8] = []
        while !String(decoding: bytes, as: UTF8.self).contains(marker) {
            guard let chunk = readChunk() else { break }
            bytes += chunk
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads until `marker` appears, the peer closes, or `seconds` pass without a byte.
    public func receive(until marker: String, waiting seconds: Double) -> String {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(seconds * 1000)) == 1 else { return "" }
        return receive(until: marker)
    }

    /// Reads a response head; returns it and how many bytes of the body came with it.
    public func receiveHead() -> (head: String, bodyBytes: Int) {
        let end = Array("\r\n\r\n".utf8)
        var bytes: [UInt8] = []
        while bytes.firstRange(of: end) == nil {
            guard let chunk = readChunk() else { return (String(decoding: bytes, as: UTF8.self), 0) }
            bytes += chunk
        }
        let head = bytes.firstRange(of: end)!
        return (String(decoding: bytes[..<head.lowerBound], as: UTF8.self), bytes.count - head.upperBound)
    }

    public func receiveAll() -> String {
        String(decoding: receiveAllBytes(), as: UTF8.self)
    }

    public func receiveAllBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        while let chunk = readChunk() { bytes += chunk }
        return bytes
    }

    /// Reads until the peer closes (true) or the receive timeout passes (false).
    public func receiveUntilClosed() -> ([UInt8], Bool) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { bytes += buffer[..<count]; continue }
            return (bytes, count == 0 || errno == ECONNRESET)
        }
    }

    /// Waits, without reading, until the peer resets the connection (true) or `seconds` pass (false).
    public func waitUntilReset(seconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: 0, revents: 0)
        return poll(&entry, 1, seconds * 1000) == 1 && entry.revents & Int16(POLLERR | POLLHUP) != 0
    }

    /// How many bytes wait in the receive queue, unread (FIONREAD).
    public var unreadBytes: Int {
        var count: Int32 = 0
        return ioctl(fd, UInt(FIONREAD), &count) == 0 ? Int(count) : -1
    }

    private func readChunk() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer[..<count]) : nil
    }
}
