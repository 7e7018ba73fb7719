import Glibc

/// The registry under load: `http://host[:port]` or `https://host[:port]`, resolved once before the run.
public struct BenchTarget: Equatable {
    public var host: String
    public var port: Int
    public var isTLS: Bool

    public init(host: String, port: Int, isTLS: Bool = false) {
        self.host = host
        self.port = port
        self.isTLS = isTLS
    }

    /// Parses a base URL; the path, if any, must be `/` (registries live at the root: `/v2/`).
    public init?(url: String) {
        let scheme = url.hasPrefix("https://") ? "https://" : "http://"
        guard url.hasPrefix(scheme) else { return nil }
        isTLS = scheme == "https://"
        var rest = Substring(url.dropFirst(scheme.count))
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else { return nil }
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = isTLS ? 443 : 80
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = rest.lastIndex(of: ":") {
            guard let value = Int(rest[rest.index(after: colon)...]) else { return nil }
            host = String(rest[..<colon])
            port = value
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    /// The `Host` header value.
    public var authority: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (isTLS ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// The base URL as reports show it.
    public var url: String { (isTLS ? "https://" : "http://") + authority + "/" }

    /// The first address of the host (getaddrinfo, before the loop runs, so blocking is fine).
    public func resolve() throws -> sockaddr_storage {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw BenchError.unresolvable(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { out in
            out.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        return storage
    }
}

public enum BenchError: Error, CustomStringConvertible {
    case unresolvable(host: String, reason: String)
    case seedingFailed(scenario: String, reason: String)

    public var description: String {
        switch self {
        case .unresolvable(let host, let reason): return "cannot resolve \(host): \(reason)"
        case .seedingFailed(let scenario, let reason): return "\(scenario): seeding the registry failed: \(reason)"
        }
    }
}
