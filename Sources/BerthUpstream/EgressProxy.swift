import Foundation

/// An HTTP proxy that upstream connections go through: where it listens, and the `Proxy-Authorization`
/// its credentials make (RFC 9110 §11.7.1, Basic as in RFC 7617). `description` is what logs and client
/// answers name it by, never with the credentials.
public struct ProxyEndpoint: Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// `Basic <base64(user:password)>`, or nil without credentials.
    public var authorization: String?

    public init(host: String, port: Int, username: String? = nil, password: String? = nil) {
        self.host = host.lowercased()
        self.port = port
        if let username, !username.isEmpty || !(password ?? "").isEmpty {
            authorization = "Basic " + Data("\(username):\(password ?? "")".utf8).base64EncodedString()
        }
    }

    /// `http://[user:password@]host[:port]`, or `host:port` without a scheme (Go reads that as http).
    /// Separate `username`/`password` replace the URL's. Throws a reason, for the caller to prefix with the
    /// key or variable it came from.
    public init(url text: String, username: String? = nil, password: String? = nil) throws {
        let lowered = text.lowercased()
        if lowered.hasPrefix("https://") || lowered.hasPrefix("socks") {
            throw EgressProxySettings.Invalid(description: "\(Self.redacted(text)): only http:// proxies are supported (plain HTTP to the proxy, CONNECT for https upstreams)")
        }
        let withScheme = lowered.hasPrefix("http://") ? "http://" + text.dropFirst(7) : (text.contains("://") ? text : "http://" + text)
        guard let url = UpstreamURL(withScheme), !url.isTLS, url.target == "/" || url.target.isEmpty else {
            throw EgressProxySettings.Invalid(description: "\(Self.redacted(text)): expected http://[user:password@]host:port")
        }
        // Without a port, :80 (as in Go; curl takes 1080).
        self.init(host: url.host, port: url.port, username: username ?? url.username, password: password ?? url.password)
    }

    /// `host:port`, IPv6 literals in brackets.
    public var description: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    /// The proxy URL with its password hidden, for messages about a value that could not be used.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@") else { return text }
        return String(text[..<scheme.upperBound]) + "***@" + String(text[text.index(after: at)...])
    }

    /// RFC 9110 §9.3.6: the CONNECT request that opens a tunnel to `origin` (authority-form target).
    func connectRequest(to origin: UpstreamOrigin, userAgent: String) -> [UInt8] {
        let authority = (origin.host.contains(":") ? "[\(origin.host)]" : origin.host) + ":\(origin.port)"
        var text = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\nUser-Agent: \(userAgent)\r\n"
        if let authorization { text += "Proxy-Authorization: \(authorization)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }
}

/// Which upstream origins go through which proxy: a pure decision per scheme, host and port, made from the
/// configuration (`egress.proxy`, `egress.noproxy`) or, where it says nothing, from the environment
/// variables every Go and curl client reads (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, or their lower-case
/// forms; the upper-case one wins, as in Go).
public struct EgressProxySettings: Equatable {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// For https upstreams (through CONNECT) and for plain-http ones (absolute-form requests).
    public var httpsProxy: ProxyEndpoint?
    public var httpProxy: ProxyEndpoint?
    public var noProxy = NoProxyList()

    public init() {}

    public init(httpsProxy: ProxyEndpoint?, httpProxy: ProxyEndpoint?, noProxy: NoProxyList = NoProxyList()) {
        self.httpsProxy = httpsProxy
        self.httpProxy = httpProxy
        self.noProxy = noProxy
    }

    public static let environmentNames = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]

    /// `url` and `noProxy` from the configuration; each one left nil is taken from `environment`. The
    /// configured proxy serves both schemes. Throws naming the key or variable whose value is unusable.
    public init(url: String?, username: String?, password: String?, noProxy: String?,
                environment: [String: String], key: String = "egress.proxy") throws {
        func endpoint(_ text: String?, _ origin: String) throws -> ProxyEndpoint? {
            guard let text, !text.isEmpty else { return nil }
            do { return try ProxyEndpoint(url: text, username: username, password: password) } catch let error as Invalid {
                throw Invalid(description: "\(origin): \(error.description)")
            }
        }
        func variable(_ name: String) -> (String, String)? {
            for candidate in [name, name.lowercased()] {
                if let value = environment[candidate], !value.isEmpty { return (candidate, value) }
            }
            return nil
        }
        if let url {
            let proxy = try endpoint(url, key)
            httpsProxy = proxy
            httpProxy = proxy
        } else {
            if let (name, value) = variable("HTTPS_PROXY") { httpsProxy = try endpoint(value, "environment \(name)") }
            if let (name, value) = variable("HTTP_PROXY") { httpProxy = try endpoint(value, "environment \(name)") }
        }
        self.noProxy = NoProxyList(noProxy ?? variable("NO_PROXY")?.1 ?? "")
    }

    public var isEmpty: Bool { httpsProxy == nil && httpProxy == nil }

    /// The proxy a connection to `origin` goes through, or nil to connect directly.
    public func proxy(for origin: UpstreamOrigin) -> ProxyEndpoint? {
        guard let proxy = origin.isTLS ? httpsProxy : httpProxy else { return nil }
        return noProxy.matches(host: origin.host, port: origin.port) ? nil : proxy
    }

    public func proxy(for url: UpstreamURL) -> ProxyEndpoint? { proxy(for: url.origin) }
}
