import BerthHTTP

/// One request to an upstream. The body, when there is one, is in memory: the mirror only sends
/// small ones (token requests, upload starts); large transfers go the other way.
public struct UpstreamRequest {
    public var method: String
    public var url: UpstreamURL
    /// Sent as given, in order; `Host` and `Content-Length` are added, `User-Agent` when absent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?

    public init(method: String = "GET", url: UpstreamURL, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    var isHead: Bool { method == "HEAD" }

    /// RFC 9110 §9.2.2: repeating these has the effect of sending them once, so a retry is safe.
    var isIdempotent: Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE": return true
        default: return false
        }
    }

    /// The request head and body as one buffer, written in one go. Sent to an HTTP proxy (`proxy`, for a
    /// plain-http upstream), the target is in absolute form (RFC 9112 §3.2.2) and the proxy's credentials
    /// go in `Proxy-Authorization`.
    func serialized(userAgent: String, through proxy: ProxyEndpoint? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + (body?.count ?? 0))
        func line(_ text: String) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(contentsOf: [0x0D, 0x0A])
        }
        if proxy != nil {
            line("\(method) http://\(url.hostHeader)\(url.target) HTTP/1.1")
        } else {
            line("\(method) \(url.target) HTTP/1.1")
        }
        line("Host: \(url.hostHeader)")
        if let authorization = proxy?.authorization { line("Proxy-Authorization: \(authorization)") }
        var hasUserAgent = false
        for (name, value) in headers {
            if asciiEqualIgnoringCase(name, "Content-Length") || asciiEqualIgnoringCase(name, "Host") { continue }
            if asciiEqualIgnoringCase(name, "User-Agent") { hasUserAgent = true }
            line("\(name): \(value)")
        }
        if !hasUserAgent { line("User-Agent: \(userAgent)") }
        if let body {
            line("Content-Length: \(body.count)")
        } else if method == "POST" || method == "PUT" || method == "PATCH" {
            // RFC 9110 §8.6: a request that has a body's method but sends none says so.
            line("Content-Length: 0")
        }
        bytes.append(contentsOf: [0x0D, 0x0A])
        if let body { bytes.append(contentsOf: body) }
        return bytes
    }
}

extension UpstreamURL {
    /// `host[:port]`, the port left out when it is the scheme's default, IPv6 literals in brackets: the URL's
    /// authority without userinfo, which is also how an image reference names the registry (`127.0.0.1:5000`).
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (isTLS ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// Scheme, host and port: what a pooled connection and an Authorization header are bound to.
    var origin: UpstreamOrigin { UpstreamOrigin(isTLS: isTLS, host: host.lowercased(), port: port) }

    /// The URL with another request target on the same origin.
    func with(target: String) -> UpstreamURL {
        var copy = self
        copy.target = target
        return copy
    }
}

public struct UpstreamOrigin: Hashable, CustomStringConvertible {
    public var isTLS: Bool
    public var host: String
    public var port: Int

    public var description: String { "\(isTLS ? "https" : "http")://\(host):\(port)" }
}
