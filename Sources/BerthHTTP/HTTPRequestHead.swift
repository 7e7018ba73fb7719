/// The parsed head of one request: what a handler needs to route and answer it.
public struct HTTPRequestHead {
    public var method: HTTPMethod
    /// The request target exactly as sent (`/v2/a/b/blobs/uploads/?digest=sha256%3A...`).
    public var target: String
    /// The header fields as received, kept as bytes; `header(_:)` makes a String of the one asked for.
    public var fields: HeaderFields
    public var keepAlive: Bool
    /// The path part of the target, before any `?`.
    public let path: Substring
    /// The query part of the target, after the `?`, or empty.
    public let query: Substring
    /// Never negative.
    public let contentLength: Int64?
    public let isChunked: Bool

    public init(method: HTTPMethod, target: String, headers: [(name: String, value: String)], keepAlive: Bool) {
        let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")).map { target.utf8.distance(from: target.utf8.startIndex, to: $0) }
        self.init(method: method, target: target, queryMark: mark, fields: HeaderFields(headers), keepAlive: keepAlive)
    }

    /// `queryMark`: the byte offset of the first `?` in `target`, or nil.
    init(method: HTTPMethod, target: String, queryMark: Int?, fields: HeaderFields, keepAlive: Bool) {
        self.method = method
        self.target = target
        self.fields = fields
        self.keepAlive = keepAlive
        if let queryMark {
            let mark = target.utf8.index(target.utf8.startIndex, offsetBy: queryMark)
            path = target[..<mark]
            query = target[target.utf8.index(after: mark)...]
        } else {
            path = target[...]
            query = ""
        }
        // The last of each counts, as it did when a loop over the fields kept overwriting.
        // nil past Int64.max, which http-parser lets through: the connection refuses that head (413).
        contentLength = fields.lastIndex(literal: "Content-Length").flatMap { index in
            fields.withValue(index) { DecimalDigits.int64(bytes: trimmingOWS($0)) }
        }
        if let index = fields.lastIndex(literal: "Transfer-Encoding") {
            transferEncoded = true
            // RFC 9112 §6.3: a body is chunked when chunked is the final transfer coding.
            isChunked = fields.withValue(index) { value in
                let last = value.lastIndex(of: UInt8(ascii: ",")).map { $0 + 1 } ?? 0
                return asciiEqualIgnoringCase(trimmingOWS(UnsafeBufferPointer(rebasing: value[last...])), "chunked")
            }
        } else {
            transferEncoded = false
            isChunked = false
        }
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
        fields.value(name)
    }

    /// The first value of a header as the bytes received, without a String (a credential checked on every
    /// request: a Bearer token is 600 bytes and more), or nil when there is none.
    public func withHeaderBytes<Result>(_ name: StaticString, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result? {
        guard let index = fields.firstIndex(literal: name) else { return nil }
        return fields.withValue(index, body)
    }

    /// Every value of a header, in order, matched case-insensitively.
    public func headerValues(_ name: String) -> [String] {
        fields.values(name)
    }

    /// True when a body follows the head (RFC 9112 §6.3).
    public var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }

    public var expectsContinue: Bool {
        fields.firstIndex(literal: "Expect").map { fields.withValue($0) { asciiEqualIgnoringCase(trimmingOWS($0), "100-continue") } } ?? false
    }

    /// RFC 9110 §5.1: a field name is a token, one or more tchar (§5.6.2): no whitespace, no delimiters.
    static func isFieldName(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
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
