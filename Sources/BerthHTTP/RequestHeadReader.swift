import Glibc

/// A request head as http-parser's callbacks deliver it, piece by piece: the target, then each field's name
/// and value (either may come split across reads), checked against the limits as it grows. No socket and no
/// loop: the connection feeds it, and so do the unit tests and the fuzzer (Tests/fuzz), byte at a time.
public struct RequestHeadReader {
    /// Why a head is refused: answered with this status, then the connection closes.
    public struct Refusal: Error, Equatable {
        public let status: Int
        public let message: String
    }

    private let limits: HTTPLimits
    private var target: [UInt8] = []
    private var headers = HeaderAccumulator(requiresTokenNames: true)
    private var headerBytes = 0

    public init(limits: HTTPLimits) {
        self.limits = limits
    }

    /// A new message begins; buffers keep their capacity for the next head on the connection.
    public mutating func reset() {
        target.removeAll(keepingCapacity: true)
        headers.reset()
        headerBytes = 0
    }

    public mutating func target(_ bytes: UnsafeRawBufferPointer) -> Refusal? {
        target.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
        guard target.count <= limits.maxTargetBytes else {
            return Refusal(status: 414, message: "request target longer than \(limits.maxTargetBytes) bytes")
        }
        return nil
    }

    public mutating func field(_ bytes: UnsafeRawBufferPointer) -> Refusal? {
        guard headers.appendName(bytes) else { return Self.badFieldName }
        return count(bytes.count)
    }

    public mutating func value(_ bytes: UnsafeRawBufferPointer) -> Refusal? {
        headers.appendValue(bytes)
        return count(bytes.count)
    }

    /// The head is complete: the request, or why it is refused before any handler sees it.
    public mutating func complete(method: HTTPMethod, keepAlive: Bool) -> Result<HTTPRequestHead, Refusal> {
        Result { () throws(Refusal) in try head(method: method, keepAlive: keepAlive) }
    }

    /// `complete` as the connection calls it: thrown, the head is returned as it is made (a Result was copied
    /// in and out, retaining and releasing each of the head's strings: ~500 instructions a request).
    mutating func head(method: HTTPMethod, keepAlive: Bool) throws(Refusal) -> HTTPRequestHead {
        guard headers.finish() else { throw Self.badFieldName }
        // Where the query starts, found in the bytes: the String's UTF8View walks a byte at a time (~800
        // instructions for a manifest path).
        let mark = target.withUnsafeBufferPointer { bytes -> Int? in
            guard let base = bytes.baseAddress, let found = memchr(base, Int32(UInt8(ascii: "?")), bytes.count) else { return nil }
            return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
        }
        let head = HTTPRequestHead(method: method, target: String(decoding: target, as: UTF8.self), queryMark: mark,
                                   fields: headers.fields, keepAlive: keepAlive)
        if let problem = head.framingProblem { throw Refusal(status: 400, message: problem) }
        // http-parser takes lengths up to 2^64 - 11; a body whose length a signed 64-bit offset cannot hold is
        // refused here.
        if head.contentLength == nil && head.fields.lastIndex(literal: "Content-Length") != nil {
            throw Refusal(status: 413, message: "Content-Length larger than \(Int64.max) bytes")
        }
        return head
    }

    private mutating func count(_ bytes: Int) -> Refusal? {
        headerBytes += bytes
        guard headerBytes <= limits.maxHeaderBytes, headers.fields.count < limits.maxHeaderCount else {
            return Refusal(status: 431, message: "request headers exceed \(limits.maxHeaderBytes) bytes or \(limits.maxHeaderCount) fields")
        }
        return nil
    }

    /// A field whose name is not a token: http-parser takes `Content-Length : 5` (space before the colon) as
    /// a Content-Length and frames the body by it, while the head would not show it, so the two would disagree
    /// on where the message ends. RFC 9112 §5.1: "A server MUST reject, with a response status code of 400
    /// (Bad Request), any received request message that contains whitespace between a header field name and
    /// colon."
    private static let badFieldName = Refusal(status: 400, message: "malformed HTTP request: a header field name holds whitespace or a character that is not a token (RFC 9112 section 5.1)")
}
