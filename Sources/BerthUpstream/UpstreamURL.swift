/// An upstream address split for the client: scheme, host, port and the request target, and the
/// credentials of a `user:password@` userinfo (RFC 3986 §3.2.1), which are never part of the host.
public struct UpstreamURL: Equatable, CustomStringConvertible {
    public var isTLS: Bool
    public var host: String
    public var port: Int
    public var target: String
    /// From the userinfo, percent-decoded; nil without one. Kept out of `description`.
    public var username: String?
    public var password: String?

    /// Parses `http://[user[:password]@]host[:port]/path?query` and `https://...`; nil for anything else.
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
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        target = authorityEnd == rest.endIndex ? "/" : String(rest[authorityEnd...])
        if target.hasPrefix("?") { target = "/" + target }
        // The last `@` ends the userinfo: a password may hold an unescaped `@`, a host never does.
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let colon = userinfo.firstIndex(of: ":")
            guard let name = Self.percentDecoded(colon.map { userinfo[..<$0] } ?? userinfo) else { return nil }
            username = name
            if let colon {
                guard let secret = Self.percentDecoded(userinfo[userinfo.index(after: colon)...]) else { return nil }
                password = secret
            }
        }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = isTLS ? 443 : 80
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
    }

    /// The URL without its userinfo: what may be logged or shown.
    public var description: String {
        (isTLS ? "https://" : "http://") + hostHeader + target
    }

    /// `%XX` decoded; nil for a malformed escape or bytes that are not UTF-8.
    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
