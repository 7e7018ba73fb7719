/// The parsed head of one request: what a handler needs to route and answer it.
public struct HTTPRequestHead {
    public var method: HTTPMethod
    /// The request target exactly as sent (`/v2/a/b/blobs/uploads/?digest=sha256%3A...`).
    public var target: String
    public var headers: [(name: String, value: String)]
    public var keepAlive: Bool

    public init(method: HTTPMethod, target: String, headers: [(name: String, value: String)], keepAlive: Bool) {
        self.method = method
        self.target = target
        self.headers = headers
        self.keepAlive = keepAlive
    }

    /// The path part of the target, before any `?`.
    public var path: Substring {
        guard let mark = target.firstIndex(of: "?") else { return target[...] }
        return target[..<mark]
    }

    /// The query part of the target, after the `?`, or empty.
    public var query: Substring {
        guard let mark = target.firstIndex(of: "?") else { return "" }
        return target[target.index(after: mark)...]
    }

    /// The first value of a header, matched case-insensitively.
    public func header(_ name: String) -> String? {
        for header in headers where asciiCaseInsensitiveEqual(header.name, name) { return header.value }
        return nil
    }

    public var contentLength: Int64? {
        header("Content-Length").flatMap { Int64($0.trimmingASCIISpaces()) }
    }

    public var isChunked: Bool {
        header("Transfer-Encoding").map { $0.lowercased().contains("chunked") } ?? false
    }

    /// True when a body follows the head (RFC 9112 §6.3).
    public var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }

    public var expectsContinue: Bool {
        header("Expect").map { asciiCaseInsensitiveEqual($0.trimmingASCIISpaces(), "100-continue") } ?? false
    }
}

func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) where asciiLower(p) != asciiLower(q) { return false }
    return true
}

@inline(__always) func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
}

extension String {
    func trimmingASCIISpaces() -> String {
        let bytes = utf8
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
              let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        return String(self[first...last])
    }
}
