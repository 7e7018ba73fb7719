import CLibUV
import Glibc

/// The address of a connection's peer, as getpeername gives it.
struct PeerAddress: CustomStringConvertible {
    private var storage = sockaddr_storage()

    init?(of tcp: UnsafeMutablePointer<uv_tcp_t>) {
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(tcp, $0, &length) }
        }
        guard status == 0 else { return nil }
    }

    /// `127.0.0.1:5678` or `[::1]:5678`, for log lines.
    var description: String {
        var name = [CChar](repeating: 0, count: 64)
        var storage = storage
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer -> String in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    uv_ip6_name($0, &name, name.count)
                    return "[\(String(cString: name))]:\(UInt16(bigEndian: $0.pointee.sin6_port))"
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                uv_ip4_name($0, &name, name.count)
                return "\(String(cString: name)):\(UInt16(bigEndian: $0.pointee.sin_port))"
            }
        }
    }
}
