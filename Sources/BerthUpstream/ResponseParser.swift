import BerthHTTP
import CHTTPParser

/// http-parser in response mode: turns bytes into the exchange's head and body events. Loop-confined.
///
/// Back-pressure is exact: when the handler pauses, the parser is paused inside the callback, and
/// `parse` reports how much it consumed so the caller keeps the rest for `resume`.
final class ResponseParser: HTTPParserEvents {
    enum Outcome {
        /// Everything was consumed; the response goes on in later bytes.
        case needMore
        /// The handler paused; bytes from `consumed` on are not parsed yet.
        case paused(consumed: Int)
        /// The response is complete; bytes from `consumed` on belong to nothing we asked for.
        case complete(consumed: Int, keepAlive: Bool)
        /// The exchange ended inside a callback (the handler cancelled it).
        case stopped
        case failed(String)
    }

    private let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)
    private lazy var parserTarget = HTTPParserTarget(self)
    /// Set only while `parse` runs: the callbacks' target.
    private var exchange: UpstreamExchange?
    private var requestWasHead = false
    private var headers = HeaderAccumulator(requiresTokenNames: false)
    /// A 1xx answer: its head is not the response's, and the real one follows.
    private var interim = false
    private var completed = false
    private var keepAlive = false

    init() {
        http_parser_init(parser, HTTP_RESPONSE)
    }

    deinit {
        parser.deallocate()
    }

    /// Readies the parser for the response to a new request.
    func reset(requestWasHead: Bool) {
        http_parser_init(parser, HTTP_RESPONSE)
        parserTarget.attach(parser)
        self.requestWasHead = requestWasHead
        completed = false
        keepAlive = false
    }

    /// Continues after `.paused`: the next `parse` picks up where the callback stopped.
    func unpause() {
        http_parser_pause(parser, 0)
    }

    func parse(_ bytes: UnsafeRawBufferPointer, for exchange: UpstreamExchange) -> Outcome {
        self.exchange = exchange
        defer { self.exchange = nil }
        let consumed = bytes.withMemoryRebound(to: CChar.self) { chars in
            http_parser_execute(parser, &httpParserSettings, chars.baseAddress, chars.count)
        }
        return outcome(consumed: consumed, total: bytes.count, for: exchange)
    }

    /// The connection ended: completes a body delimited by the close, or says the response is cut short.
    func finish(for exchange: UpstreamExchange) -> Outcome {
        self.exchange = exchange
        defer { self.exchange = nil }
        let failed = http_parser_execute(parser, &httpParserSettings, nil, 0) != 0
        if completed { return .complete(consumed: 0, keepAlive: false) }
        return failed ? .failed("connection closed in the middle of the response") : .needMore
    }

    private func outcome(consumed: Int, total: Int, for exchange: UpstreamExchange) -> Outcome {
        if completed { return .complete(consumed: consumed, keepAlive: keepAlive) }
        if exchange.hasEnded { return .stopped }
        let error = http_errno(rawValue: parser.pointee.http_errno)
        switch error {
        case HPE_OK: return .needMore
        case HPE_PAUSED: return .paused(consumed: consumed)
        default: return .failed(String(cString: http_errno_description(error)))
        }
    }

    // MARK: Callbacks

    func messageBegin() -> Int32 {
        headers.reset()
        interim = false
        return 0
    }

    func headerField(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        _ = headers.appendName(bytes)  // a client takes any name: always true
        return 0
    }

    func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        headers.appendValue(bytes)
        return 0
    }

    /// Returns 1 when the response has no body whatever its headers say (the answer to a HEAD).
    func headersComplete() -> Int32 {
        _ = headers.finish()
        let status = Int(parser.pointee.status_code)
        if status == 101 { return -1 }
        if status < 200 {
            // RFC 9110 §15.2: interim answers (100 Continue, 103 Early Hints) precede the final one.
            interim = true
            return 0
        }
        guard let exchange else { return -1 }
        exchange.deliverHead(status: status, headers: UpstreamHeaders(headers.takeFields()))
        if exchange.hasEnded { return -1 }
        if exchange.isPaused { http_parser_pause(parser, 1) }
        return requestWasHead ? 1 : 0
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let exchange else { return 1 }
        exchange.deliverBody(bytes)
        if exchange.hasEnded { return 1 }
        if exchange.isPaused { http_parser_pause(parser, 1) }
        return 0
    }

    func messageComplete() -> Int32 {
        if interim {
            interim = false
            return 0
        }
        keepAlive = http_should_keep_alive(parser) != 0
        completed = true
        // Stop here: the caller ends the exchange outside the parser, and bytes after it are not ours.
        http_parser_pause(parser, 1)
        return 0
    }
}
