import BerthHTTP
import BerthUpstream
import CBerthShims
import CHTTPParser
import CLibUV
import Glibc

/// One kept-alive HTTP/1.1 connection of the harness: writes a prepared request, parses the answer with
/// http-parser, tells its run. Loop-confined; its run keeps it alive for the whole run, so libuv's `data`
/// pointers are unretained. Nothing here allocates per request: the handles, the parser and the head buffer
/// are made once, and the answer is reduced to a status, a byte count and, when asked, a hash and a Location.
final class BenchConnection {
    unowned let run: LoadRun
    var machine = BenchConnectionStateMachine()
    /// The operation this connection is in, for the run: its index, step and start (uv_hrtime).
    var operation = -1
    var step = 0
    var operationStart: UInt64 = 0
    /// The operation's next step, chosen by the run from the last answer.
    var pending: BenchRequest?
    /// When the connect or the request in flight began, on the loop's millisecond clock (no clock read).
    private(set) var waitingSince: UInt64 = 0
    /// The run is fetching a token for the request in `pending` (its 401 was a Bearer challenge).
    var awaitingToken = false
    /// The request in flight carried the authorizer's token for its slot (a 401 to it refuses that token).
    private(set) var sentToken = false

    private let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    private let connectRequest = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    private let writeRequest = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private var headBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)

    /// The request in flight (or last answered).
    private(set) var request = BenchRequest(head: [])
    /// This operation was answered with a challenge once already.
    var challenged = false
    var response = BenchResponse()
    var hasher = berth_sha256_state()
    var completed = false
    var keepAlive = false
    /// libuv owns `writeRequest` until its callback; an answer that comes first waits for it.
    private var writing = false
    private var answeredWhileWriting = false
    /// What the callbacks (BenchConnection+Parsing) keep of the response. The Location header, gathered over
    /// split callbacks when the request wants it.
    var fieldName: [UInt8] = []
    var fieldValue: [UInt8] = []
    var lastWasValue = false
    var inLocation = false
    /// `WWW-Authenticate` of a 401, when the run answers Bearer challenges.
    var inChallenge = false
    var challengeValue: [UInt8] = []
    var parsesHeaders = false
    /// Over `https://`: a new session per connect.
    private var tls: BenchTLSChannel?

    init(run: LoadRun) {
        self.run = run
        fieldName.reserveCapacity(64)
        fieldValue.reserveCapacity(512)
    }

    deinit {
        tcp.deallocate()
        connectRequest.deallocate()
        writeRequest.deallocate()
        headBuffer.deallocate()
        parser.deallocate()
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self) }
    private var handle: UnsafeMutablePointer<uv_handle_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self) }

    func connect() {
        waitingSince = uv_now(run.loop.raw)
        uv_tcp_init(run.loop.raw, tcp)
        tcp.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        connectRequest.pointee.data = tcp.pointee.data
        let status = withUnsafePointer(to: &run.address) { address in
            address.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_connect(connectRequest, tcp, $0) { request, status in
                let connection = Unmanaged<BenchConnection>.fromOpaque(request!.pointee.data).takeUnretainedValue()
                connection.didConnect(status)
            } }
        }
        if status != 0 { didConnect(status) }
    }

    private func didConnect(_ status: Int32) {
        if status == 0, let context = run.tlsContext {
            do {
                tls = try BenchTLSChannel(context: context, host: run.tlsHost)
            } catch {
                run.connectFailed("TLS: \((error as? UpstreamError)?.reason ?? "\(error)")")
                perform(machine.connected(ok: false))
                return
            }
        }
        if status == 0 {
            uv_tcp_nodelay(tcp, 1)
            StreamTransport(tcp).startReading { stream, count, buffer in
                Unmanaged<BenchConnection>.fromOpaque(stream!.pointee.data)._withUnsafeGuaranteedRef {
                    $0.didRead(count, UnsafeRawPointer(buffer!.pointee.base))
                }
            }
        } else {
            run.connectFailed(String(cString: uv_strerror(status)))
        }
        if status == 0, tls != nil { return handshake() }
        perform(machine.connected(ok: status == 0))
    }

    /// A handshake step over the ciphertext lent (none for the ClientHello): the connection counts as
    /// connected once it is done.
    private func handshake() {
        guard let tls else { return }
        let step = tls.handshake()
        let flushed = flushTLS()
        guard let step else {
            if !flushed { perform(machine.streamEnded()) }
            return
        }
        if !step.ok { run.connectFailed("TLS: \(step.reason ?? "handshake failed")") }
        perform(machine.connected(ok: step.ok && flushed))
    }

    private func flushTLS() -> Bool {
        tls?.flush(stream) { [unowned self] in perform(machine.streamEnded()) } ?? true
    }

    private func perform(_ action: BenchConnectionStateMachine.Action) {
        switch action {
        case .none: break
        case .issueNext: issue()
        case .deliverResponse(let reconnect):
            run.answered(self, response, expected: request.expected)
            if reconnect { closeSocket() } else if writing { answeredWhileWriting = true } else { issue(at: run.lastAnswer) }
        case .failRequest:
            run.requestFailed(self, timedOut: false)
            closeSocket()
        case .reconnect, .giveUp, .close: closeSocket()
        }
    }

    /// `now`: the clock just read for the answer before, so back-to-back operations read it once each.
    private func issue(at now: UInt64? = nil) {
        if awaitingToken {
            perform(machine.park())
            return
        }
        guard let next = run.nextRequest(for: self, now: now ?? uv_hrtime()) else {
            perform(run.park(self) ? machine.park() : machine.issued(false))
            return
        }
        perform(machine.issued(true))
        send(next)
    }

    /// The run resumes a connection whose token has come, or for which there may be work.
    func resume() {
        awaitingToken = false
        perform(machine.resume())
    }

    private func send(_ next: BenchRequest) {
        waitingSince = uv_now(run.loop.raw)
        request = next
        response = BenchResponse()
        completed = false
        lastWasValue = false
        inLocation = false
        inChallenge = false
        fieldName.removeAll(keepingCapacity: true)
        fieldValue.removeAll(keepingCapacity: true)
        challengeValue.removeAll(keepingCapacity: true)
        http_parser_init(parser, HTTP_RESPONSE)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        if next.expectedDigest != nil { berth_sha256_init(&hasher) }
        let authorization = run.authorizer?.line(for: next.authSlot)
        sentToken = authorization != nil
        parsesHeaders = next.wantsLocation || run.readsChallenges
        let headLength = next.head.count + (authorization?.count ?? 0)
        if headLength > headBuffer.count {
            headBuffer.deallocate()
            headBuffer = .allocate(byteCount: headLength, alignment: 8)
        }
        if let authorization {
            RequestHead.insert(authorization, into: next.head, at: headBuffer)
        } else {
            next.head.withUnsafeBytes { headBuffer.copyMemory(from: $0) }
        }
        if let tls {
            let written = tls.write(head: UnsafeRawBufferPointer(rebasing: headBuffer[..<headLength]), body: next.body) && flushTLS()
            if !written { perform(machine.streamEnded()) }
            return
        }
        var head = uv_buf_t(base: headBuffer.baseAddress!.assumingMemoryBound(to: CChar.self), len: headLength)
        var body = uv_buf_t(base: UnsafeMutablePointer(mutating: next.body.baseAddress?.assumingMemoryBound(to: CChar.self)), len: next.body.count)
        // What the socket takes at once needs no write request: uv_write alone costs a callback and an
        // epoll_ctl per request (1.4 % in `perf`), as BerthHTTP's StreamTransport notes.
        var buffers = (head, body)
        let taken = withUnsafeMutablePointer(to: &buffers) { pair in
            pair.withMemoryRebound(to: uv_buf_t.self, capacity: 2) { uv_try_write(stream, $0, next.body.count > 0 ? 2 : 1) }
        }
        if Int(taken) == headLength + next.body.count { return }
        if taken < 0, taken != Int32(UV_EAGAIN.rawValue) {
            perform(machine.streamEnded())
            return
        }
        let written = Int(max(taken, 0))
        if written >= head.len {
            body.base += written - head.len
            body.len -= written - head.len
            buffers = (body, body)
        } else {
            head.base += written
            head.len -= written
            buffers = (head, body)
        }
        let count: UInt32 = written >= headLength || next.body.count == 0 ? 1 : 2
        writeRequest.pointee.data = tcp.pointee.data
        writing = true
        let status = withUnsafeMutablePointer(to: &buffers) { pair in
            pair.withMemoryRebound(to: uv_buf_t.self, capacity: 2) { uv_write(writeRequest, stream, $0, count) { request, status in
                Unmanaged<BenchConnection>.fromOpaque(request!.pointee.data)._withUnsafeGuaranteedRef { $0.didWrite(status) }
            } }
        }
        if status != 0 {
            writing = false
            perform(machine.streamEnded())
        }
    }

    private func didWrite(_ status: Int32) {
        writing = false
        if status != 0 {
            perform(machine.streamEnded())
        } else if answeredWhileWriting {
            answeredWhileWriting = false
            if machine.state == .idle { issue() }
        }
    }

    private var parserSettings: UnsafeMutablePointer<http_parser_settings> {
        parsesHeaders ? BenchConnection.settingsWithHeaders : BenchConnection.settings
    }

    private func didRead(_ count: Int, _ bytes: UnsafeRawPointer?) {
        if let tls { return didReadTLS(tls, count, bytes) }
        if count > 0 {
            let consumed = http_parser_execute(parser, parserSettings, bytes?.assumingMemoryBound(to: CChar.self), count)
            if completed {
                perform(machine.responseComplete(keepAlive: keepAlive))
            } else if consumed != count || parser.pointee.http_errno != 0 {
                perform(machine.streamEnded())
            }
        } else if count < 0 {
            streamEnded()
        }
    }

    /// The end of a body delimited by the close (RFC 9112 §6.3 item 8) completes the response.
    private func streamEnded() {
        if machine.state == .awaitingResponse {
            http_parser_execute(parser, parserSettings, nil, 0)
            if completed {
                perform(machine.responseComplete(keepAlive: false))
                return
            }
        }
        perform(machine.streamEnded())
    }

    /// Ciphertext is lent to the session only while this runs; what it has not read is kept before any action.
    private func didReadTLS(_ tls: BenchTLSChannel, _ count: Int, _ bytes: UnsafeRawPointer?) {
        guard count > 0 else {
            if count < 0 { streamEnded() }
            return
        }
        tls.session.lend(UnsafeRawBufferPointer(start: bytes, count: count))
        guard tls.handshaken else {
            let kept = tls.session.keepUnread()
            return kept ? handshake() : perform(machine.streamEnded())
        }
        var failed = false
        var ended = false
        reading: while true {
            switch tls.read() {
            case .bytes(let plain):
                let consumed = http_parser_execute(parser, parserSettings, tls.plaintext.baseAddress!.assumingMemoryBound(to: CChar.self), plain)
                if completed { break reading }
                if consumed != plain || parser.pointee.http_errno != 0 {
                    failed = true
                    break reading
                }
            case .wantMore: break reading
            case .ended:
                ended = true
                break reading
            }
        }
        let kept = tls.session.keepUnread()
        let flushed = flushTLS()
        if completed {
            perform(machine.responseComplete(keepAlive: keepAlive && kept && flushed && !ended))
        } else if ended {
            streamEnded()
        } else if failed || !kept || !flushed {
            perform(machine.streamEnded())
        }
    }

    /// The run's watchdog found this connection waiting too long.
    func timedOut() {
        switch machine.timedOut() {
        case .failRequest:
            run.requestFailed(self, timedOut: true)
            closeSocket()
        case .giveUp:
            run.connectFailed("timed out")
            closeSocket()
        default: break
        }
    }

    var isWaiting: Bool { machine.state == .awaitingResponse || machine.state == .connecting }

    private func closeSocket() {
        guard uv_is_closing(handle) == 0 else { return }
        uv_close(handle) { handle in
            let connection = Unmanaged<BenchConnection>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            connection.didClose()
        }
    }

    private func didClose() {
        tls = nil
        writing = false
        answeredWhileWriting = false
        if machine.socketClosed() {
            connect()
        } else {
            run.connectionClosed(self)
        }
    }
}
