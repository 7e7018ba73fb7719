@testable import BerthHTTP
import CHTTPParser

/// Request bytes through http-parser and Berth's glue (`httpParserSettings`, `RequestHeadReader`), as a
/// connection feeds them, split at a point taken from the input: every head is built or refused, never a trap,
/// and a head that is built agrees with http-parser on the body's length.
extension FuzzTarget {
    static let requestHead = FuzzTarget(name: "request-head") { bytes in
        let events = HeadEvents()
        let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)
        defer { parser.deallocate() }
        http_parser_init(parser, HTTP_REQUEST)
        let target = HTTPParserTarget(events)
        target.attach(parser)
        events.parser = parser
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        let raw = UnsafeRawBufferPointer(bytes)
        for part in [raw[..<split], raw[split...]] {
            let piece = UnsafeRawBufferPointer(rebasing: part)
            if piece.isEmpty { continue } // a connection feeds no empty reads: length 0 means the peer closed
            let consumed = piece.withMemoryRebound(to: CChar.self) { http_parser_execute(parser, &httpParserSettings, $0.baseAddress, $0.count) }
            require(consumed <= piece.count, "consumed \(consumed) of \(piece.count)")
            if parser.pointee.http_errno != HPE_OK.rawValue { break }
        }
    }
}

/// What a connection does in its callbacks, without the connection.
private final class HeadEvents: HTTPParserEvents {
    var reader = RequestHeadReader(limits: HTTPLimits())
    var parser: UnsafeMutablePointer<http_parser>?

    func messageBegin() -> Int32 {
        reader.reset()
        return 0
    }

    func url(_ bytes: UnsafeRawBufferPointer) -> Int32 { reader.target(bytes) == nil ? 0 : 1 }
    func headerField(_ bytes: UnsafeRawBufferPointer) -> Int32 { reader.field(bytes) == nil ? 0 : 1 }
    func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 { reader.value(bytes) == nil ? 0 : 1 }

    func headersComplete() -> Int32 {
        guard let parser else { return -1 }
        let method = HTTPMethod(parserMethod: parser.pointee.method)
        guard case .success(let head) = reader.complete(method: method, keepAlive: http_should_keep_alive(parser) != 0) else { return -1 }
        // A head Berth accepts frames its body as http-parser does: by its Content-Length, or chunked.
        if let length = head.contentLength, parser.pointee.flags & UInt32(F_CHUNKED.rawValue) == 0 {
            require(UInt64(length) == parser.pointee.content_length, "Content-Length \(length), parser \(parser.pointee.content_length)")
        }
        return 0
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int32 { 0 }
    func messageComplete() -> Int32 { 0 }
}
