/// What a handler answers: a status, headers and a body from memory or from an open file.
public struct HTTPResponse {
    public enum Body {
        case empty
        case bytes([UInt8])
        /// An open file the server sends with sendfile(2); Range requests apply to it.
        case file(OpenFile, size: Int64)
        /// An open file of `size` bytes still being written: sent as `progress` says its bytes are final.
        case growingFile(OpenFile, size: Int64, progress: GrowingFile)
    }

    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Body

    public init(status: Int, headers: [(name: String, value: String)] = [], body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, headers: [(name: String, value: String)] = [], text: String) {
        self.init(status: status, headers: headers, body: .bytes(Array(text.utf8)))
    }

    var bodyLength: Int64 {
        switch body {
        case .empty: return 0
        case .bytes(let bytes): return Int64(bytes.count)
        case .file(_, let size), .growingFile(_, let size, _): return size
        }
    }
}

extension HTTPResponse {
    /// The status line and headers as bytes, built in one buffer (no intermediate strings), with room for
    /// `bodyCapacity` bytes of body after them. `contentLength` nil: the status has none (ResponseFraming).
    /// `fixedHeaders` (the server's own, each ending in CRLF) and `dateHeader` come serialized already; the
    /// literal parts are copied from static bytes and every String with one memcpy: appending a String's
    /// `utf8` view went through a generic copy, about 100 instructions each, 23 a manifest GET.
    func serializedHead(contentLength: Int64?, bodyCapacity: Int, fixedHeaders: [UInt8], dateHeader: [UInt8], close: Bool) -> [UInt8] {
        var head: [UInt8] = []
        head.reserveCapacity(512 + bodyCapacity)
        Self.appendLiteral("HTTP/1.1 ", to: &head)
        appendDecimal(Int64(status), to: &head)
        head.append(0x20)
        Self.appendUTF8(reasonPhrase(status), to: &head)
        Self.appendLiteral("\r\n", to: &head)
        head.append(contentsOf: fixedHeaders)
        for (name, value) in headers { Self.appendHeader(name, value, to: &head) }
        if let contentLength {
            Self.appendLiteral("Content-Length: ", to: &head)
            appendDecimal(contentLength, to: &head)
            Self.appendLiteral("\r\n", to: &head)
        }
        head.append(contentsOf: dateHeader)
        if close { Self.appendLiteral("Connection: close\r\n", to: &head) }
        Self.appendLiteral("\r\n", to: &head)
        return head
    }

    /// `name: value` CRLF.
    static func appendHeader(_ name: String, _ value: String, to head: inout [UInt8]) {
        appendUTF8(name, to: &head)
        appendLiteral(": ", to: &head)
        appendUTF8(value, to: &head)
        appendLiteral("\r\n", to: &head)
    }

    private static func appendLiteral(_ text: StaticString, to head: inout [UInt8]) {
        head.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func appendUTF8(_ text: String, to head: inout [UInt8]) {
        var text = text
        text.withUTF8 { head.append(contentsOf: $0) }
    }

    private func appendDecimal(_ value: Int64, to head: inout [UInt8]) {
        guard value > 0 else { head.append(UInt8(ascii: "0")); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { head.append(buffer[index]) }
        }
    }
}

/// Reason phrases for the statuses a registry answers.
func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 100: return "Continue"
    case 200: return "OK"
    case 201: return "Created"
    case 202: return "Accepted"
    case 204: return "No Content"
    case 206: return "Partial Content"
    case 301: return "Moved Permanently"
    case 302: return "Found"
    case 304: return "Not Modified"
    case 307: return "Temporary Redirect"
    case 400: return "Bad Request"
    case 401: return "Unauthorized"
    case 403: return "Forbidden"
    case 404: return "Not Found"
    case 405: return "Method Not Allowed"
    case 408: return "Request Timeout"
    case 409: return "Conflict"
    case 411: return "Length Required"
    case 413: return "Content Too Large"
    case 414: return "URI Too Long"
    case 415: return "Unsupported Media Type"
    case 416: return "Range Not Satisfiable"
    case 429: return "Too Many Requests"
    case 431: return "Request Header Fields Too Large"
    case 500: return "Internal Server Error"
    case 501: return "Not Implemented"
    case 502: return "Bad Gateway"
    case 503: return "Service Unavailable"
    case 504: return "Gateway Timeout"
    case 507: return "Insufficient Storage"
    default: return "Status"
    }
}
