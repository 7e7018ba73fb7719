import CHTTPParser

/// http-parser's callbacks as methods of the object that owns the parser. Each returns 0 to go on.
public protocol HTTPParserEvents: AnyObject {
    func messageBegin() -> Int32
    func url(_ bytes: UnsafeRawBufferPointer) -> Int32
    func headerField(_ bytes: UnsafeRawBufferPointer) -> Int32
    func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32
    func headersComplete() -> Int32
    func body(_ bytes: UnsafeRawBufferPointer) -> Int32
    func messageComplete() -> Int32
}

extension HTTPParserEvents {
    /// Responses have no request target.
    public func url(_ bytes: UnsafeRawBufferPointer) -> Int32 { 0 }
}

/// What a parser's `data` points at: the object its callbacks reach. The owner keeps the target as long
/// as the parser, and the target does not keep the owner.
public final class HTTPParserTarget {
    fileprivate unowned(unsafe) let events: any HTTPParserEvents

    public init(_ events: any HTTPParserEvents) {
        self.events = events
    }

    public func attach(_ parser: UnsafeMutablePointer<http_parser>) {
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }
}

@inline(__always)
private func events(_ parser: UnsafeMutablePointer<http_parser>?) -> any HTTPParserEvents {
    Unmanaged<HTTPParserTarget>.fromOpaque(parser!.pointee.data).takeUnretainedValue().events
}

@inline(__always)
private func bytes(_ at: UnsafePointer<CChar>?, _ count: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: at, count: count)
}

/// `httpParserSettings` where it lies for good, for the request path: `&httpParserSettings` is an inout access
/// to a global, which Swift checks for exclusivity at run time on every `http_parser_execute` (~70 instructions).
nonisolated(unsafe) public let httpParserSettingsPointer: UnsafeMutablePointer<http_parser_settings> = {
    let pointer = UnsafeMutablePointer<http_parser_settings>.allocate(capacity: 1)
    pointer.initialize(to: httpParserSettings)
    return pointer
}()

/// One set of callbacks for every parser, requests and responses alike; pass it to `http_parser_execute`.
nonisolated(unsafe) public var httpParserSettings: http_parser_settings = {
    var settings = http_parser_settings()
    settings.on_message_begin = { events($0).messageBegin() }
    settings.on_url = { events($0).url(bytes($1, $2)) }
    settings.on_header_field = { events($0).headerField(bytes($1, $2)) }
    settings.on_header_value = { events($0).headerValue(bytes($1, $2)) }
    settings.on_headers_complete = { events($0).headersComplete() }
    settings.on_body = { events($0).body(bytes($1, $2)) }
    settings.on_message_complete = { events($0).messageComplete() }
    return settings
}()
