import BerthTLS
import CBerthShims
import CHTTPParser
import CLibUV
import Glibc

/// One client connection: reads, parses, hands exchanges to the handler, writes answers in order.
/// Loop-confined. Keeps itself alive (passRetained) while its handle is open; the close callback releases it.
final class HTTPConnection: HTTPParserEvents {
    let server: HTTPServer
    let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    let transport: StreamTransport
    /// TLS over the transport when the server has a certificate (HTTPConnection+TLS): bytes read go through
    /// it before the parser, and every write after it.
    let tls: TLSServerSession?
    let tlsBuffers: TLSBuffers?
    /// Whether `pumpTLS` is running: a call from inside it (the parser's callbacks resume reading) leaves the
    /// decrypting to the running one.
    @exclusivity(unchecked) var pumpingTLS = false
    private let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)
    private lazy var parserTarget = HTTPParserTarget(self)
    /// What is true of the connection (HTTPConnectionStateMachine); this class performs its actions.
    /// The properties touched on every request are `@exclusivity(unchecked)`: the dynamic check costs
    /// ~25 instructions an access (a thread-local access set), about 1,000 a kept-alive GET, and none of them
    /// is reached from inside a mutation of itself (the state machine and the head reader call out to nothing).
    @exclusivity(unchecked) var machine: HTTPConnectionStateMachine

    @exclusivity(unchecked) private var headReader: RequestHeadReader
    /// Why the head being parsed is refused: found in a callback, answered when the parser stops.
    @exclusivity(unchecked) private var refusal: RequestHeadReader.Refusal?

    @exclusivity(unchecked) private(set) var exchange: HTTPExchange?

    /// Input read past a paused parser (pipelined requests waiting for the current answer).
    @exclusivity(unchecked) private var stash: [UInt8] = []
    /// Whether libuv is reading: follows `machine.readsInput`, applied by `updateReading`.
    @exclusivity(unchecked) private var reading = false
    /// Set when the server counts this connection against its client's limit.
    var client: ClientAddress?

    init(server: HTTPServer) {
        self.server = server
        transport = StreamTransport(tcp)
        headReader = RequestHeadReader(limits: server.limits)
        // A session that cannot be made (out of memory) leaves the connection to be closed on accept.
        tls = server.tlsContext.flatMap { try? TLSServerSession(context: $0) }
        tlsBuffers = tls.map { _ in TLSBuffers() }
        machine = HTTPConnectionStateMachine(now: server.loop.now, tls: server.tlsContext != nil)
        uv_tcp_init(server.loop.raw, tcp)
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()
        http_parser_init(parser, HTTP_REQUEST)
        parserTarget.attach(parser)
    }

    deinit {
        tcp.deallocate()
        parser.deallocate()
    }

    var stream: UnsafeMutablePointer<uv_stream_t> { transport.stream }

    /// Set on accept, while the peer is surely there.
    var peer: PeerAddress?
    lazy var remoteAddress: String = peer?.description ?? "-"

    // MARK: Reading

    func startReading() {
        guard !reading, machine.readsInput else { return }
        reading = true
        transport.startReading { stream, count, _ in
            Unmanaged<HTTPConnection>.fromOpaque(stream!.pointee.data).takeUnretainedValue().didRead(count)
        }
        // Records already decrypted or received wait in OpenSSL, not in the socket: no read would bring them.
        if tls != nil { pumpTLS() }
    }

    func stopReading() {
        guard reading else { return }
        reading = false
        transport.stopReading()
    }

    private func didRead(_ count: Int) {
        if count < 0 {
            close()
            return
        }
        guard count > 0 else { return }
        machine.bytesArrived(now: server.loop.now)
        if let tls {
            let bytes = server.loop.readBytes(count)
            if machine.isHandshaking, refusesPlainHTTP(bytes) { return }
            tls.lend(bytes)
            pumpTLS()
            // The loop's read buffer is reused by the next read: what OpenSSL did not take is copied now.
            if !tls.keepUnread() { close() }
        } else {
            feed(server.loop.readBytes(count))
        }
    }

    /// Whether the parser takes input now: it reads, and no answer holds it paused.
    var parserTakesInput: Bool {
        machine.readsInput && http_errno(rawValue: parser.pointee.http_errno) != HPE_PAUSED
    }

    func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty, !machine.isClosed else { return }
        let parsed = bytes.withMemoryRebound(to: CChar.self) { chars in
            http_parser_execute(parser, httpParserSettingsPointer, chars.baseAddress, chars.count)
        }
        if machine.isClosed { return }
        let error = http_errno(rawValue: parser.pointee.http_errno)
        if error == HPE_PAUSED {
            stash = Array(bytes[parsed...])
            stopReading()
            return
        }
        if error != HPE_OK {
            failParse(error)
        }
    }

    func setBodyPaused(_ paused: Bool) {
        machine.bodyHeld(paused)
        if paused { stopReading() } else { startReading() }
    }

    /// Continues with pipelined input once the current answer is out. The parser is paused only when the
    /// answer came after the request's end had been parsed; an answer sent inside a parser callback lets
    /// the parser run on by itself.
    private func resumeParsing() {
        guard http_errno(rawValue: parser.pointee.http_errno) == HPE_PAUSED else { return }
        http_parser_pause(parser, 0)
        if !stash.isEmpty {
            let pending = stash
            stash = []
            pending.withUnsafeBytes { feed($0) }
        }
        startReading()
    }

    private func failParse(_ error: http_errno) {
        if let refusal {
            answerAndClose(status: refusal.status, message: refusal.message)
            return
        }
        switch error {
        case HPE_HEADER_OVERFLOW:
            answerAndClose(status: 431, message: "request header fields too large")
        case HPE_INVALID_EOF_STATE:
            close()
        default:
            let description = String(cString: http_errno_description(error))
            refuseRequestBody(status: 400, message: "malformed HTTP request: \(description)")
        }
    }

    /// The rest of the request cannot be read. Refused as any failure outside an exchange, unless the handler
    /// already answered (an early answer whose body is being discarded): then that answer stays the only one,
    /// and the connection closes once it is out.
    func refuseRequestBody(status: Int, message: String) {
        switch machine.bodyUnreadable() {
        case .refuse:
            answerAndClose(status: status, message: message)
        case .closeAfterAnswer:
            stopReading()
        case .closeNow:
            logExchange()
            close()
        }
    }

    /// Answers a failure found before or outside an exchange, then closes.
    func answerAndClose(status: Int, message: String) {
        exchange?.connectionLost()
        exchange?.connection = nil
        machine.refuse()
        let response = server.handler.protocolError(status: status, message: message)
        let orphan = HTTPExchange(request: HTTPRequestHead(method: .other("-"), target: "-", headers: [], keepAlive: false),
                                  loop: server.loop, connection: self, isRefusal: true)
        exchange = orphan
        stopReading()
        orphan.respond(response)
    }

    // MARK: Parser callbacks

    func messageBegin() -> Int32 {
        machine.messageBegins(now: server.loop.now)
        headReader.reset()
        return 0
    }

    func url(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        refuse(headReader.target(bytes))
    }

    func headerField(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        refuse(headReader.field(bytes))
    }

    func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        refuse(headReader.value(bytes))
    }

    /// Keeps the refusal for when the parser stops (1 stops it).
    private func refuse(_ refusal: RequestHeadReader.Refusal?) -> Int32 {
        guard let refusal else { return 0 }
        self.refusal = refusal
        return 1
    }

    func headersComplete() -> Int32 {
        // Any value other than 0, 1 and 2 makes http-parser stop with an error (1 and 2 mean "no body").
        let head: HTTPRequestHead
        do {
            head = try headReader.head(method: HTTPMethod(parserMethod: parser.pointee.method), keepAlive: http_should_keep_alive(parser) != 0)
        } catch {
            refusal = error
            return -1
        }
        machine.headComplete(now: server.loop.now, draining: server.draining)
        let exchange = HTTPExchange(request: head, loop: server.loop, connection: self)
        self.exchange = exchange
        server.handler.handle(exchange)
        return 0
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let exchange else { return 0 }
        exchange.deliver(bytes)
        if exchange.responded, exchange.discarded > server.limits.discardBudget {
            close()
            return 1
        }
        return 0
    }

    func messageComplete() -> Int32 {
        machine.requestEnds(now: server.loop.now)
        exchange?.bodyComplete()
        switch machine.requestEnded() {
        case .stop:
            return 1
        case .next:
            finishExchange()
            return machine.isClosed ? 1 : 0
        case .pauseParser:
            http_parser_pause(parser, 1)
            return 0
        }
    }

    // MARK: Answering

    /// Sends `100 Continue` when the client waits for it before sending the body.
    func bodyAccepted(_ exchange: HTTPExchange) {
        guard exchange.request.expectsContinue, !exchange.continueSent, !exchange.responded else { return }
        exchange.continueSent = true
        write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) { _ in }
    }

    func send(_ response: HTTPResponse, for exchange: HTTPExchange) {
        let close = machine.answerStarts(keepAlive: exchange.request.keepAlive, draining: server.draining,
                                         withheldBody: exchange.request.expectsContinue && !exchange.continueSent)
        var response = response
        var framing: ResponseFraming
        switch ResponseFraming.decide(&response, for: exchange.request) {
        case .send(let decided):
            framing = decided
        case .rangeNotSatisfiable(let header, let size):
            response = server.handler.protocolError(status: 416, message: "range \(header) not satisfiable for \(size) bytes")
            response.headers.append(("Content-Range", "bytes */\(size)"))
            guard case .send(let refusal) = ResponseFraming.decide(&response, for: exchange.request) else { return }
            framing = refusal
        }
        exchange.status = response.status
        var bodyCapacity = 0
        if case .bytes = response.body { bodyCapacity = Int(framing.bodyCount) }
        var head = response.serializedHead(contentLength: framing.contentLength, bodyCapacity: bodyCapacity,
                                           fixedHeaders: server.defaultHeaderBytes, dateHeader: server.dateHeader, close: close)
        switch response.body {
        case .empty:
            write(head, completion: headWritten)
        case .bytes(let bytes):
            if framing.bodyCount > 0 { head.append(contentsOf: bytes); exchange.bytesSent = Int64(bytes.count) }
            write(head, completion: headWritten)
        case .file(let file, _), .growingFile(let file, _, _):
            guard framing.bodyCount > 0 else {
                write(head, completion: headWritten)
                return
            }
            let progress: GrowingFile? = if case .growingFile(_, _, let progress) = response.body { progress } else { nil }
            // A write's completion always runs (libuv cancels queued writes on close), so it holds self strongly.
            write(head) { [self] ok in
                guard ok else { self.close(); return }
                sendBody(file, growing: progress, from: framing.bodyStart, count: framing.bodyCount, exchange: exchange)
            }
        }
    }

    private func headWritten(_ ok: Bool) {
        if ok { responseFinished() } else { close() }
    }

    func responseFinished() {
        switch machine.answerSent(now: server.loop.now) {
        case .close:
            logExchange()
            close()
        case .finishExchange:
            finishExchange()
            resumeParsing()
        case .awaitRequestEnd, .none:
            break
        }
    }

    private func finishExchange() {
        logExchange()
        exchange?.connection = nil
        exchange = nil
        if machine.closesAfterAnswer { close() }
    }

    /// The access-log line and the handler's metrics, once per exchange.
    private func logExchange() {
        guard let exchange, !exchange.isRefusal else { return }
        server.handler.finished(exchange)
        logAccess(exchange, status: exchange.status)
    }

    func write(_ bytes: [UInt8], completion: @escaping (Bool) -> Void) {
        guard !machine.isClosed else { completion(false); return }
        guard let tls else {
            transport.write(bytes, completion: completion)
            return
        }
        guard bytes.withUnsafeBytes({ tls.write($0) }) else { completion(false); return }
        sendCiphertext(ifQueued: completion).complete(completion)
    }

    // MARK: Closing

    /// Closes now when idle, or after the current answer.
    func drain() {
        if machine.drain() { close() }
    }

    /// Closes even during a pool transfer: the blocking sendfile ends with an error when the socket goes.
    func forceClose() {
        if machine.isTransferringInPool { transport.shutdownNow() } else { close() }
    }

    func close() {
        guard case .closeNow(let aborts) = machine.close() else { return }
        // A request whose client left before its answer was written (an upload cut mid-body) is logged as aborted.
        if aborts, let exchange, !exchange.isRefusal { logAccess(exchange, status: nil) }
        exchange?.connectionLost()
        exchange?.connection = nil
        exchange = nil
        stopReading()
        server.connectionClosed(self)
        uv_close(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self)) { handle in
            Unmanaged<HTTPConnection>.fromOpaque(handle!.pointee.data).release()
        }
    }
}
