/// An upstream address split for the client: scheme, host, port and the request target.
public struct UpstreamURL: Equatable {
    public var isTLS: Bool
    public var host: String
    public var port: Int
    public var target: String

    /// Parses `http://host[:port]/path?query` and `https://...`; nil for anything else.
    public init?(_ text: String) {
        let rest: Substring
        if text.hasPrefix("https://") {
            isTLS = true
            rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            isTLS = false
            rest = text.dropFirst(7)
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        target = authorityEnd == rest.endIndex ? "/" : String(rest[authorityEnd...])
        if target.hasPrefix("?") { target = "/" + target }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"), let port = Int(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = isTLS ? 443 : 80
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
    }
}
