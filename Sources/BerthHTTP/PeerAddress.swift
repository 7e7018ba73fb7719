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

    /// The IP address without the port: what the per-client connection count is keyed by.
    var client: ClientAddress {
        var storage = storage
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    withUnsafeBytes(of: $0.pointee.sin6_addr) { ClientAddress(bytes: $0) }
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin_addr) { ClientAddress(ipv4: $0) }
            }
        }
    }
}

/// An IP address as 16 bytes, IPv4 in its IPv6-mapped form (::ffff:a.b.c.d), so that a client reaching a
/// dual-stack listener both ways counts once.
public struct ClientAddress: Hashable, CustomStringConvertible {
    private let high: UInt64
    private let low: UInt64

    fileprivate init(bytes: UnsafeRawBufferPointer) {
        high = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        low = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    }

    fileprivate init(ipv4 bytes: UnsafeRawBufferPointer) {
        var mapped = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &mapped) { out in
            out[10] = 0xff
            out[11] = 0xff
            UnsafeMutableRawBufferPointer(rebasing: out[12..<16]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<4]))
        }
        (high, low) = mapped
    }

    /// `127.0.0.1` (an IPv4-mapped address as IPv4) or `::1`, for metrics and log lines.
    public var description: String {
        var words = (high, low)
        var name = [CChar](repeating: 0, count: 64)
        return withUnsafeBytes(of: &words) { bytes in
            let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            let family = mapped ? AF_INET : AF_INET6
            let start = mapped ? 12 : 0
            guard uv_inet_ntop(family, bytes.baseAddress! + start, &name, name.count) == 0 else { return "-" }
            return String(cString: name)
        }
    }
}
