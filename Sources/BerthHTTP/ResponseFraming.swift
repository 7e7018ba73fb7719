/// How a response goes on the wire for the request it answers, decided before a byte is written: Range on
/// a file body (RFC 9110 §14.2: 206 with Content-Range, or 416), no body after a HEAD (§9.3.2) though its
/// Content-Length is the GET's, and no Content-Length on 204 and 304 (§8.6). Pure: no I/O; the connection
/// writes what it says, and the rules are tested on their own (ResponseFramingTests).
struct ResponseFraming: Equatable {
    /// Content-Length to announce; nil for the statuses that have none.
    var contentLength: Int64?
    /// The part of the body sent after the head: from `bodyStart`, `bodyCount` bytes (0: the head alone).
    var bodyStart: Int64 = 0
    var bodyCount: Int64 = 0

    enum Decision: Equatable {
        case send(ResponseFraming)
        /// The Range cannot be met: answer 416 with `Content-Range: bytes */<size>` instead.
        case rangeNotSatisfiable(header: String, size: Int64)
    }

    /// Frames `response` for `request`, adding the headers a file body and a range need to it.
    static func decide(_ response: inout HTTPResponse, for request: HTTPRequestHead) -> Decision {
        let isHead = request.method == .head
        switch response.body {
        case .empty:
            return .send(ResponseFraming(status: response.status, length: 0))
        case .bytes(let bytes):
            let length = Int64(bytes.count)
            return .send(ResponseFraming(status: response.status, length: length, count: isHead ? 0 : length))
        case .file(_, let size), .growingFile(_, let size, _):
            response.headers.append(("Accept-Ranges", "bytes"))
            var first: Int64 = 0
            var length = size
            if response.status == 200, let header = request.header("Range") {
                switch ByteRange.resolve(header, size: size) {
                case .satisfiable(let start, let last):
                    response.status = 206
                    response.headers.append(("Content-Range", "bytes \(start)-\(last)/\(size)"))
                    first = start
                    length = last - start + 1
                case .unsatisfiable:
                    return .rangeNotSatisfiable(header: header, size: size)
                case .ignored:
                    break
                }
            }
            return .send(ResponseFraming(status: response.status, length: length, start: first, count: isHead ? 0 : length))
        }
    }

    /// RFC 9110 §8.6: no Content-Length in a 204; a 304 would announce the length of what it does not send.
    static func hasContentLength(_ status: Int) -> Bool {
        status != 204 && status != 304
    }
}

extension ResponseFraming {
    private init(status: Int, length: Int64, start: Int64 = 0, count: Int64 = 0) {
        self.init(contentLength: Self.hasContentLength(status) ? length : nil, bodyStart: start, bodyCount: count)
    }
}
