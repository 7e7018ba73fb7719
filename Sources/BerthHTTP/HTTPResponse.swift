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
    func serializedHead(contentLength: Int64?, bodyCapacity: Int, defaultHeaders: [(name: String, value: String)],
                        dateHeader: String, close: Bool) -> [UInt8] {
        var head: [UInt8] = []
        head.reserveCapacity(512 + bodyCapacity)
        head.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(Int64(status), to: &head)
        head.append(0x20)
        head.append(contentsOf: reasonPhrase(status).utf8)
        head.append(contentsOf: "\r\n".utf8)
        for (name, value) in defaultHeaders { appendHeader(name, value, to: &head) }
        for (name, value) in headers { appendHeader(name, value, to: &head) }
        if let contentLength {
            head.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(contentLength, to: &head)
            head.append(contentsOf: "\r\n".utf8)
        }
        head.append(contentsOf: dateHeader.utf8)
        if close { head.append(contentsOf: "Connection: close\r\n".utf8) }
        head.append(contentsOf: "\r\n".utf8)
        return head
    }

    private func appendHeader(_ name: String, _ value: String, to head: inout [UInt8]) {
        head.append(contentsOf: name.utf8)
        head.append(contentsOf: ": ".utf8)
        head.append(contentsOf: value.utf8)
        head.append(contentsOf: "\r\n".utf8)
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
