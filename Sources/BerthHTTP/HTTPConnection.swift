import CBerthShims
import CHTTPParser
import CLibUV
import Glibc

/// One client connection: reads, parses, hands exchanges to the handler, writes answers in order.
/// Loop-confined. Keeps itself alive (passRetained) while its handle is open; the close callback releases it.
final class HTTPConnection: HTTPParserEvents {
    enum Phase {
        /// Between requests: waiting for the first byte of the next one.
        case idle
        case readingHead
        case readingBody
        /// The request is complete; its answer is being produced or written.
        case answering
    }

    let server: HTTPServer
    let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    private let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)
    private lazy var parserTarget = HTTPParserTarget(self)
    private(set) var phase = Phase.idle
    private(set) var lastActivity: UInt64
    private(set) var headStartedAt: UInt64 = 0

    private var headReader: RequestHeadReader
    /// Why the head being parsed is refused: found in a callback, answered when the parser stops.
    private var refusal: RequestHeadReader.Refusal?

    private(set) var exchange: HTTPExchange?
    private var requestComplete = false
    private var responseWritten = false
    private var closeAfterResponse = false

    /// Input read past a paused parser (pipelined requests waiting for the current answer).
    private var stash: [UInt8] = []
    private var parserPaused = false
    private(set) var bodyPaused = false
    private(set) var reading = false
    /// True while a blocking sendfile on the pool owns the socket (HTTPConnection+FileTransfer).
    var transferInPool = false
    /// The body being received must keep arriving, and the peer must keep taking what was written to it
    /// (HTTPConnection+Deadlines).
    var bodyProgress = ProgressDeadline()
    var outputProgress = ProgressDeadline()
    private(set) var closed = false
    /// Set when the server counts this connection against its client's limit.
    var client: ClientAddress?
    private var inParse = false

    init(server: HTTPServer) {
        self.server = server
        headReader = RequestHeadReader(limits: server.limits)
        lastActivity = server.loop.now
        uv_tcp_init(server.loop.raw, tcp)
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()
        http_parser_init(parser, HTTP_REQUEST)
        parserTarget.attach(parser)
    }

    deinit {
        tcp.deallocate()
        parser.deallocate()
    }

    var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
    }

    var socketDescriptor: Int32 {
        var fd = uv_os_fd_t(-1)
        uv_fileno(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self), &fd)
        return fd
    }

    /// Set on accept, while the peer is surely there.
    var peer: PeerAddress?
    lazy var remoteAddress: String = peer?.description ?? "-"

    // MARK: Reading

    func startReading() {
        guard !reading, !closed, !parserPaused, !bodyPaused, !transferInPool else { return }
        reading = true
        uv_read_start(stream, { _, _, buffer in
            buffer!.pointee = uv_buf_t(base: sharedReadBuffer, len: sharedReadBufferSize)
        }, { stream, count, _ in
            let connection = Unmanaged<HTTPConnection>.fromOpaque(stream!.pointee.data).takeUnretainedValue()
            connection.didRead(count)
        })
    }

    func stopReading() {
        guard reading else { return }
        reading = false
        uv_read_stop(stream)
    }

    private func didRead(_ count: Int) {
        if count < 0 {
            close()
            return
        }
        guard count > 0 else { return }
        lastActivity = server.loop.now
        feed(UnsafeRawBufferPointer(start: sharedReadBuffer, count: count))
    }

    private func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty, !closed else { return }
        inParse = true
        let parsed = bytes.withMemoryRebound(to: CChar.self) { chars in
            http_parser_execute(parser, &httpParserSettings, chars.baseAddress, chars.count)
        }
        inParse = false
        if closed { return }
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
        bodyPaused = paused
        // The time Berth holds the body back is not the peer's: its window starts again after a pause.
        bodyProgress.disarm()
        if paused { stopReading() } else { startReading() }
    }

    /// Continues with pipelined input once the current answer is out.
    private func resumeParsing() {
        parserPaused = false
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
            answerAndClose(status: 400, message: "malformed HTTP request: \(description)")
        }
    }

    /// Answers a failure found before or outside an exchange, then closes.
    func answerAndClose(status: Int, message: String) {
        exchange?.connectionLost()
        exchange?.connection = nil
        closeAfterResponse = true
        let response = server.handler.protocolError(status: status, message: message)
        let orphan = HTTPExchange(request: HTTPRequestHead(method: .other("-"), target: "-", headers: [], keepAlive: false),
                                  loop: server.loop, connection: self)
        exchange = orphan
        requestComplete = true
        stopReading()
        parserPaused = true
        orphan.respond(response)
    }

    // MARK: Parser callbacks

    func messageBegin() -> Int32 {
        phase = .readingHead
        headStartedAt = server.loop.now
        headReader.reset()
        requestComplete = false
        responseWritten = false
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
        phase = .readingBody
        lastActivity = server.loop.now
        // Any value other than 0, 1 and 2 makes http-parser stop with an error (1 and 2 mean "no body").
        let head: HTTPRequestHead
        switch headReader.complete(method: HTTPMethod(parserMethod: parser.pointee.method), keepAlive: http_should_keep_alive(parser) != 0) {
        case .success(let complete): head = complete
        case .failure(let refusal):
            self.refusal = refusal
            return -1
        }
        let exchange = HTTPExchange(request: head, loop: server.loop, connection: self)
        self.exchange = exchange
        if server.draining { closeAfterResponse = true }
        server.handler.handle(exchange)
        return 0
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let exchange else { return 0 }
        exchange.deliver(bytes)
        if exchange.responded, exchange.discarded > server.limits.discardBudget {
            closeAfterResponse = true
            close()
            return 1
        }
        return 0
    }

    func messageComplete() -> Int32 {
        phase = .answering
        requestComplete = true
        exchange?.bodyComplete()
        if closed { return 1 }
        if responseWritten {
            finishExchange()
            return 0
        }
        parserPaused = true
        http_parser_pause(parser, 1)
        return 0
    }

    // MARK: Answering

    /// Sends `100 Continue` when the client waits for it before sending the body.
    func bodyAccepted(_ exchange: HTTPExchange) {
        guard exchange.request.expectsContinue, !exchange.continueSent, !exchange.responded else { return }
        exchange.continueSent = true
        write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) { _ in }
    }

    func send(_ response: HTTPResponse, for exchange: HTTPExchange) {
        if !requestComplete, exchange.request.expectsContinue, !exchange.continueSent {
            // The client holds its body back; the only way to end the request is to close.
            closeAfterResponse = true
        }
        if !exchange.request.keepAlive || server.draining { closeAfterResponse = true }
        var response = response
        var range: (first: Int64, count: Int64)?
        switch response.body {
        case .file(_, let size), .growingFile(_, let size, _):
            response.headers.append(("Accept-Ranges", "bytes"))
            if response.status == 200, let header = exchange.request.header("Range") {
                switch ByteRange.resolve(header, size: size) {
                case .satisfiable(let first, let last):
                    response.status = 206
                    response.headers.append(("Content-Range", "bytes \(first)-\(last)/\(size)"))
                    range = (first, last - first + 1)
                case .unsatisfiable:
                    var refusal = server.handler.protocolError(status: 416, message: "range \(header) not satisfiable for \(size) bytes")
                    refusal.headers.append(("Content-Range", "bytes */\(size)"))
                    response = refusal
                case .ignored:
                    break
                }
            }
        default:
            break
        }
        exchange.status = response.status
        let isHead = exchange.request.method == .head
        let length = range?.count ?? response.bodyLength
        var bodyCapacity = 0
        if case .bytes(let bytes) = response.body, !isHead { bodyCapacity = bytes.count }
        var head = response.serializedHead(contentLength: length, bodyCapacity: bodyCapacity, defaultHeaders: server.defaultHeaders,
                                           dateHeader: server.dateHeader, close: closeAfterResponse)
        switch response.body {
        case .empty:
            write(head, completion: headWritten)
        case .bytes(let bytes):
            if !isHead { head.append(contentsOf: bytes); exchange.bytesSent = Int64(bytes.count) }
            write(head, completion: headWritten)
        case .file(let file, _), .growingFile(let file, _, _):
            if isHead || length == 0 {
                write(head, completion: headWritten)
                return
            }
            let first = range?.first ?? 0
            let progress: GrowingFile? = if case .growingFile(_, _, let progress) = response.body { progress } else { nil }
            write(head) { [weak self] ok in
                guard let self, ok else { self?.close(); return }
                if let progress {
                    self.follow(file, progress, from: first, to: first + length, exchange: exchange)
                } else {
                    self.transfer(file, from: first, count: length, exchange: exchange)
                }
            }
        }
    }

    private func headWritten(_ ok: Bool) {
        if ok { responseFinished() } else { close() }
    }

    func responseFinished() {
        responseWritten = true
        if closeAfterResponse {
            logExchange()
            close()
            return
        }
        if requestComplete {
            finishExchange()
            if !inParse && !closed { resumeParsing() }
        }
    }

    private func finishExchange() {
        logExchange()
        exchange = nil
        phase = .idle
        lastActivity = server.loop.now
        if closeAfterResponse { close() }
    }

    /// The access-log line and the handler's metrics, once per exchange.
    private func logExchange() {
        guard let exchange, exchange.request.target != "-" else { return }
        server.handler.finished(exchange)
        logAccess(exchange, status: exchange.status)
    }

    // MARK: Writing

    func write(_ bytes: [UInt8], completion: @escaping (Bool) -> Void) {
        guard !closed else { completion(false); return }
        var written = 0
        bytes.withUnsafeBytes { raw in
            var buffer = uv_buf_t(base: UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: CChar.self)), len: raw.count)
            let result = uv_try_write(stream, &buffer, 1)
            written = result > 0 ? Int(result) : 0
            if result < 0 && result != Int32(UV_EAGAIN.rawValue) { written = -1 }
        }
        if written == bytes.count { completion(true); return }
        if written < 0 { completion(false); return }
        SocketWrite(bytes: bytes[written...], completion: completion).start(on: stream)
    }

    // MARK: Closing

    /// Closes now when idle, or after the current answer.
    func drain() {
        closeAfterResponse = true
        if phase == .idle { close() }
    }

    /// Closes even during a pool transfer: the blocking sendfile ends with an error when the socket goes.
    func forceClose() {
        if transferInPool { shutdown(socketDescriptor, Int32(SHUT_RDWR)) } else { close() }
    }

    func close() {
        guard !closed else { return }
        if transferInPool {
            closeAfterResponse = true
            return
        }
        closed = true
        // A request whose client left before its answer was written (an upload cut mid-body) is logged as aborted.
        if let exchange, !responseWritten, exchange.request.target != "-" { logAccess(exchange, status: nil) }
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

private let sharedReadBufferSize = 256 * 1024
/// One read buffer for the whole loop: reads are parsed before the next one arrives.
nonisolated(unsafe) private let sharedReadBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: sharedReadBufferSize)
