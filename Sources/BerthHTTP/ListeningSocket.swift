import CBerthShims
import CLibUV
import Glibc

/// A TCP socket bound to the server's address and listening. A server opens its sockets once, one per
/// worker, in the supervisor (nginx's way) or in its single process: the first is bound without SO_REUSEPORT,
/// so that bind is the test that the port is free, and a second server on a busy port fails at once with
/// EADDRINUSE whatever its number of workers; the others join it in one SO_REUSEPORT group, so the kernel
/// spreads new connections over the workers as evenly as when each bound its own. Workers inherit theirs and
/// come and go (restarts, a reload) while the supervisor keeps every socket open, so a connection waiting in
/// a queue is never reset: it waits for the worker that takes that queue over.
public struct ListeningSocket {
    public static let backlog: Int32 = 1024
    /// Set in a worker's environment: the descriptor of the inherited listening socket.
    public static let descriptorVariable = "BERTH_LISTEN_FD"
    public static let inheritedDescriptor: Int32 = 4

    public let descriptor: Int32

    /// `count` sockets bound to `address` (`host:port`, `:port` for every interface, `[v6]:port`) and listening.
    public static func open(_ address: String, count: Int = 1) throws -> [ListeningSocket] {
        let (host, port) = try split(address)
        var storage = sockaddr_storage()
        let family: Int32 = host.contains(":") ? AF_INET6 : AF_INET
        let parsed = withUnsafeMutablePointer(to: &storage) { pointer -> Int32 in
            if family == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
        }
        guard parsed == 0 else { throw HTTPServerError(description: "http.addr: \(address) is not an IP address and port") }
        let length = UInt32(family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        var sockets: [ListeningSocket] = []
        for index in 0..<max(count, 1) {
            let descriptor = withUnsafeMutablePointer(to: &storage) { pointer in
                // Port 0 is a port of the kernel's choice for the first socket; the others join that one.
                if index == 1, let bound = sockets.first?.port {
                    pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = in_port_t(bound).bigEndian }
                }
                return pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { berth_listen_tcp($0, length, backlog, index > 0 ? 1 : 0) }
            }
            // libuv's codes are -errno on Unix: its messages ("address already in use") are the ones Berth logged before.
            guard descriptor >= 0 else {
                sockets.forEach { close($0.descriptor) }
                throw HTTPServerError(description: "cannot listen on \(address): \(String(cString: uv_strerror(descriptor)))")
            }
            sockets.append(ListeningSocket(descriptor: descriptor))
        }
        return sockets
    }

    /// The port bound (the kernel's choice for port 0).
    public var port: Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        // sin_port and sin6_port are at the same offset.
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    /// In a worker: the socket the supervisor passed down; nil in a process that was given none.
    public static func inherited() -> ListeningSocket? {
        guard let text = getenv(descriptorVariable).map({ String(cString: $0) }), let descriptor = Int32(text) else { return nil }
        return ListeningSocket(descriptor: descriptor)
    }

    static func split(_ address: String) throws -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw HTTPServerError(description: "http.addr: \(address) has no port (expected host:port)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty || host == "0.0.0.0" { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        return (host, port)
    }
}
