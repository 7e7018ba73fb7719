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
    /// Fields serialized already, each `Name: value` CRLF, sent after `headers`: for an answer a handler gives
    /// again and again (a cached manifest's three), made once rather than as an array of Strings every time.
    public var serializedHeaders: [UInt8]
    public var body: Body

    public init(status: Int, headers: [(name: String, value: String)] = [], serializedHeaders: [UInt8] = [], body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.serializedHeaders = serializedHeaders
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
    /// `fixedHeaders` (the server's own, each ending in CRLF) and `dateHeader` come serialized already. The
    /// buffer is sized first and every piece copied in at a cursor: `Array.append(contentsOf:)` checked
    /// uniqueness and capacity and stored the count for each of a manifest answer's 17 pieces (~90
    /// instructions each).
    func serializedHead(contentLength: Int64?, bodyCapacity: Int, fixedHeaders: [UInt8], dateHeader: [UInt8], close: Bool) -> [UInt8] {
        // The status line (20 digits at most, the longest reason is 31 bytes), Content-Length, Connection: close
        // and the blank line fit in 128 bytes.
        var bound = 128 + fixedHeaders.count + dateHeader.count + serializedHeaders.count
        for (name, value) in headers { bound += name.utf8.count + value.utf8.count + 4 }
        return [UInt8](unsafeUninitializedCapacity: bound + bodyCapacity) { buffer, count in
            var cursor = HeadCursor(at: buffer.baseAddress!)
            cursor.put("HTTP/1.1 ")
            cursor.putDecimal(Int64(status))
            cursor.put(" ")
            cursor.put(reasonPhrase(status))
            cursor.put("\r\n")
            cursor.put(fixedHeaders)
            for (name, value) in headers {
                cursor.put(name)
                cursor.put(": ")
                cursor.put(value)
                cursor.put("\r\n")
            }
            cursor.put(serializedHeaders)
            if let contentLength {
                cursor.put("Content-Length: ")
                cursor.putDecimal(contentLength)
                cursor.put("\r\n")
            }
            cursor.put(dateHeader)
            if close { cursor.put("Connection: close\r\n") }
            cursor.put("\r\n")
            count = buffer.baseAddress!.distance(to: cursor.at)
        }
    }

    /// `fields` as `serializedHeaders` holds them.
    public static func serialize(_ fields: [(name: String, value: String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (name, value) in fields { appendHeader(name, value, to: &bytes) }
        return bytes
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
}

/// Writes at a pointer into memory sized beforehand (`serializedHead`'s bound).
private struct HeadCursor {
    var at: UnsafeMutablePointer<UInt8>

    mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        UnsafeMutableRawPointer(at).copyMemory(from: base, byteCount: bytes.count)
        at += bytes.count
    }

    mutating func put(_ text: StaticString) {
        put(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func put(_ text: String) {
        var text = text
        text.withUTF8 { put($0) }
    }

    mutating func put(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { put($0) }
    }

    /// Decimal digits, written from the last; 0 for anything not positive (no status or length is).
    mutating func putDecimal(_ value: Int64) {
        guard value > 0 else {
            at.pointee = UInt8(ascii: "0")
            at += 1
            return
        }
        var digits = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        rest = value
        for index in stride(from: digits - 1, through: 0, by: -1) {
            at[index] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
        at += digits
    }
}

/// Reason phrases for the statuses a registry answers: static bytes, copied without a String's `withUTF8`.
func reasonPhrase(_ status: Int) -> StaticString {
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
