import Glibc

/// The hosts reached without the egress proxy, read as Go's `golang.org/x/net/http/httpproxy` reads
/// `NO_PROXY` (what registry:2, containerd and the Docker daemon follow), with curl's reading of loopback.
/// Comma- or space-separated entries, case-insensitive:
/// - `*` alone: no host goes through the proxy;
/// - `10.0.0.0/8`, `fd00::/8`: address literals inside the block;
/// - `10.1.2.3`, `::1`, `[::1]:5000`, `10.1.2.3:5000`: that address (on that port only, when one is given);
/// - `example.com`, `*.example.com`: that name and every name below it; `.example.com`: only the names below
///   it (curl also takes `example.com` itself there; Go does not, and neither does this);
/// - `name:port`: the same, on that port only.
/// Unlike Go, `localhost` and loopback addresses are not exempt by themselves (curl does not exempt them
/// either): a mirror whose upstream is on this host through a local proxy is a real setup, and the tests'.
public struct NoProxyList: Equatable {
    enum Entry: Equatable {
        case everything
        case block(address: [UInt8], prefixBits: Int)
        case address([UInt8], port: Int?)
        /// `suffix` begins with a dot; `includesSelf` also matches the name without that dot.
        case domain(suffix: String, includesSelf: Bool, port: Int?)
    }

    private(set) var entries: [Entry] = []

    public init(_ text: String = "") {
        let separators: Set<Character> = [",", " ", "\t", "\n"]
        for item in text.split(whereSeparator: { separators.contains($0) }) {
            if let entry = Self.entry(item.lowercased()) { entries.append(entry) }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Whether `host` (a name, or an address literal without brackets) on `port` is reached directly.
    public func matches(host: String, port: Int) -> Bool {
        let name = host.lowercased().trimmingTrailingDot
        let address = Self.addressBytes(name)
        for entry in entries {
            switch entry {
            case .everything:
                return true
            case .block(let network, let bits):
                if let address, address.count == network.count, Self.prefix(of: address, equals: network, bits: bits) { return true }
            case .address(let expected, let expectedPort):
                if address == expected, expectedPort == nil || expectedPort == port { return true }
            case .domain(let suffix, let includesSelf, let expectedPort):
                guard address == nil, expectedPort == nil || expectedPort == port else { continue }
                if name.hasSuffix(suffix) || (includesSelf && name == suffix.dropFirst()) { return true }
            }
        }
        return false
    }

    private static func entry(_ item: String) -> Entry? {
        if item == "*" { return .everything }
        if let slash = item.firstIndex(of: "/") {
            // A CIDR block; anything else with a slash is malformed, and Go skips it too.
            guard let network = addressBytes(String(item[..<slash])), let bits = Int(item[item.index(after: slash)...]),
                  (0...network.count * 8).contains(bits) else { return nil }
            return .block(address: network, prefixBits: bits)
        }
        var host = item
        var port: Int?
        if item.hasPrefix("[") {
            // `[v6]` or `[v6]:port`
            guard let close = item.firstIndex(of: "]") else { return nil }
            host = String(item[item.index(after: item.startIndex)..<close])
            let rest = item[item.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()) else { return nil }
                port = number
            }
        } else if addressBytes(item) == nil, let colon = item.lastIndex(of: ":") {
            // `name:port` or `v4:port`; a bare v6 literal has colons too, and is an address above.
            guard let number = Int(item[item.index(after: colon)...]) else { return nil }
            host = String(item[..<colon])
            port = number
        }
        guard !host.isEmpty else { return nil }
        if let address = addressBytes(host) { return .address(address, port: port) }
        if host.hasPrefix("*.") { host.removeFirst() }
        let includesSelf = !host.hasPrefix(".")
        let suffix = (includesSelf ? "." + host : host).trimmingTrailingDot
        guard suffix.count > 1 else { return nil }
        return .domain(suffix: suffix, includesSelf: includesSelf, port: port)
    }

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) literal's bytes; nil for a name.
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    private static func prefix(of address: [UInt8], equals network: [UInt8], bits: Int) -> Bool {
        var remaining = bits
        for index in address.indices where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if address[index] & mask != network[index] & mask { return false }
            remaining -= 8
        }
        return true
    }
}

private extension String {
    /// `example.com.` is the fully qualified `example.com`.
    var trimmingTrailingDot: String { hasSuffix(".") && count > 1 ? String(dropLast()) : self }
}
