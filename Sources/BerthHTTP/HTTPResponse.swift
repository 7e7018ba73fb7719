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
