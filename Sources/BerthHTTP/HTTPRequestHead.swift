/// The parsed head of one request: what a handler needs to route and answer it.
public struct HTTPRequestHead {
    public var method: HTTPMethod
    /// The request target exactly as sent (`/v2/a/b/blobs/uploads/?digest=sha256%3A...`).
    public var target: String
    public var headers: [(name: String, value: String)]
    public var keepAlive: Bool
    /// The path part of the target, before any `?`.
    public let path: Substring
    /// The query part of the target, after the `?`, or empty.
    public let query: Substring
    /// Never negative.
    public let contentLength: Int64?
    public let isChunked: Bool

    public init(method: HTTPMethod, target: String, headers: [(name: String, value: String)], keepAlive: Bool) {
        self.method = method
        self.target = target
        self.headers = headers
        self.keepAlive = keepAlive
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = target[..<mark]
            query = target[target.utf8.index(after: mark)...]
        } else {
            path = target[...]
            query = ""
        }
        var length: Int64?
        var finalCoding: String?
        for header in headers {
            if asciiEqualIgnoringCase(header.name, "Content-Length") {
                // nil past Int64.max, which http-parser lets through: the connection refuses that head (413).
                length = DecimalDigits.int64(header.value.trimmingOWS())
            } else if asciiEqualIgnoringCase(header.name, "Transfer-Encoding") {
                let last = header.value.utf8.lastIndex(of: UInt8(ascii: ",")).map { header.value.utf8.index(after: $0) }
                finalCoding = String(header.value[(last ?? header.value.startIndex)...].trimmingOWS())
            }
        }
        contentLength = length
        transferEncoded = finalCoding != nil
        // RFC 9112 §6.3: a body is chunked when chunked is the final transfer coding.
        isChunked = finalCoding.map { asciiEqualIgnoringCase($0, "chunked") } ?? false
    }

    private let transferEncoded: Bool

    /// Why the request's body cannot be framed, or nil. RFC 9112 §6.3: "If a Transfer-Encoding header field
    /// is present in a request and the chunked transfer coding is not the final encoding, the message body
    /// length cannot be determined reliably; the server MUST respond with the 400 (Bad Request) status code
    /// and then close the connection." (http-parser says so too, but only after the head went to the handler.)
    var framingProblem: String? {
        transferEncoded && !isChunked ? "malformed HTTP request: chunked is not the final transfer coding" : nil
    }

    /// The first value of a header, matched case-insensitively.
    public func header(_ name: String) -> String? {
        for header in headers where asciiEqualIgnoringCase(header.name, name) { return header.value }
        return nil
    }


    /// True when a body follows the head (RFC 9112 §6.3).
    public var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }

    public var expectsContinue: Bool {
        header("Expect").map { asciiEqualIgnoringCase(String($0.trimmingOWS()), "100-continue") } ?? false
    }

    /// RFC 9110 §5.1: a field name is a token, one or more tchar (§5.6.2): no whitespace, no delimiters.
    static func isFieldName(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
                 UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
                 UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
                continue
            default:
                return false
            }
        }
        return true
    }
}
