import BerthHTTP
import CLibUV
import Glibc

/// One connection to an upstream origin, plain or TLS: one exchange at a time, parked in the client's
/// pool between them. Loop-confined. It retains itself once per open libuv handle and per request in
/// flight, and each callback releases its share, so it lives exactly as long as libuv needs it.
final class UpstreamConnection {
    enum State {
        case resolving
        case connecting
        case handshaking
        /// Ready and in the pool; still reading, to notice the peer closing.
        case idle
        case exchanging
        case closed
    }

    let origin: UpstreamOrigin
    private let client: UpstreamClient
    private(set) var state = State.resolving
    /// Exchanges completed: a connection that has served one is a reused one for the next.
    private(set) var exchangesCompleted = 0
    private var exchange: UpstreamExchange?
    var currentExchange: UpstreamExchange? { exchange }

    /// One per connect attempt (a failed attempt's socket cannot be reused for the next address).
    private var tcp: UnsafeMutablePointer<uv_tcp_t>?
    private let timer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    private var addresses: [sockaddr_storage] = []
    private var connectError: UpstreamError?
    private var tls: TLSSession?
    /// Decrypted bytes; per connection because a handler's `resume` of another exchange may run while
    /// this one's bytes are being delivered.
    private var plaintext: UnsafeMutableRawBufferPointer?
    private let parser = ResponseParser()
    /// Response bytes read past a pause, delivered on resume.
    private var stash: [UInt8] = []
    private var reading = false
    private var delivering = false
    private var requestWritten = false
    private var lastActivity: UInt64

    init(client: UpstreamClient, origin: UpstreamOrigin) {
        self.client = client
        self.origin = origin
        lastActivity = client.loop.now
        uv_timer_init(client.loop.raw, timer)
        timer.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    deinit {
        timer.deallocate()
        plaintext?.deallocate()
    }

    private var configuration: UpstreamClient.Configuration { client.configuration }

    // MARK: Opening

    /// Resolves, connects and (for https) completes the handshake, then sends `exchange`'s request.
    func open(for exchange: UpstreamExchange) {
        self.exchange = exchange
        exchange.connection = self
        arm(configuration.connectTimeoutMilliseconds)
        resolve()
    }

    private func resolve() {
        state = .resolving
        let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        // No AI_ADDRCONFIG: glibc does not count loopback, so a loopback-only host would resolve nothing.
        hints.ai_flags = AI_NUMERICSERV
        let status = uv_getaddrinfo(client.loop.raw, request, { request, status, result in
            let connection = Unmanaged<UpstreamConnection>.fromOpaque(request!.pointee.data).takeRetainedValue()
            request!.deallocate()
            connection.resolved(status: status, result)
            if let result { uv_freeaddrinfo(result) }
        }, origin.host, String(origin.port), &hints)
        if status != 0 {
            Unmanaged<UpstreamConnection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            fail(.dnsFailure(host: origin.host, reason: uvErrorName(status)))
        }
    }

    private func resolved(status: Int32, _ result: UnsafeMutablePointer<addrinfo>?) {
        guard state == .resolving else { return }
        guard status == 0 else {
            fail(.dnsFailure(host: origin.host, reason: uvErrorName(status)))
            return
        }
        var entry = result
        while let info = entry {
            if let address = info.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(info.pointee.ai_addrlen))) }
                addresses.append(storage)
            }
            entry = info.pointee.ai_next
        }
        connectNext()
    }

    /// Tries the resolved addresses in order: `localhost` may name ::1 where only 127.0.0.1 listens.
    private func connectNext() {
        guard !addresses.isEmpty else {
            fail(connectError ?? .dnsFailure(host: origin.host, reason: "no address"))
            return
        }
        state = .connecting
        var address = addresses.removeFirst()
        let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(client.loop.raw, tcp)
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()
        self.tcp = tcp
        uv_tcp_nodelay(tcp, 1)
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                uv_tcp_connect(request, tcp, address) { request, status in
                    let connection = Unmanaged<UpstreamConnection>.fromOpaque(request!.pointee.data).takeRetainedValue()
                    let stream = request!.pointee.handle
                    request!.deallocate()
                    connection.connected(status: status, stream: stream)
                }
            }
        }
        if status != 0 {
            Unmanaged<UpstreamConnection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            connectFailed(status)
        }
    }

    private func connected(status: Int32, stream: UnsafeMutablePointer<uv_stream_t>?) {
        guard state == .connecting, let tcp, stream == self.stream(of: tcp) else { return }
        guard status == 0 else {
            connectFailed(status)
            return
        }
        guard origin.isTLS else {
            ready()
            return
        }
        do {
            tls = try TLSSession(context: client.tlsContext, host: origin.host)
        } catch {
            fail(error as? UpstreamError ?? .tlsHandshakeFailed(host: origin.host, reason: "\(error)"))
            return
        }
        plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 * 1024, alignment: 16)
        state = .handshaking
        startReading()
        continueHandshake()
    }

    private func connectFailed(_ status: Int32) {
        connectError = status == Int32(UV_ECONNREFUSED.rawValue)
            ? .connectionRefused(host: origin.host, port: origin.port)
            : .connectFailed(host: origin.host, port: origin.port, reason: uvErrorName(status))
        closeSocket()
        connectNext()
    }

    private func continueHandshake() {
        guard let tls else { return }
        let step = tls.handshake()
        flushTLS()
        switch step {
        case .done: ready()
        case .wantMore: break
        case .failed(let error): fail(error)
        }
    }

    private func ready() {
        guard let exchange else {
            close()
            return
        }
        begin(exchange)
        if tls != nil { pumpTLS() }
    }

    // MARK: Exchanges

    /// Sends `exchange`'s request on this connection (fresh, or taken from the pool).
    func begin(_ exchange: UpstreamExchange) {
        self.exchange = exchange
        exchange.attached(to: self)
        state = .exchanging
        parser.reset(requestWasHead: exchange.request.isHead)
        stash.removeAll()
        requestWritten = false
        lastActivity = client.loop.now
        arm(configuration.readTimeoutMilliseconds)
        let request = exchange.request.serialized(userAgent: configuration.userAgent)
        let sent: (Bool) -> Void = { [self] ok in requestSent(ok, for: exchange) }
        if let tls {
            guard tls.write(request) else {
                fail(.tlsHandshakeFailed(host: origin.host, reason: "cannot encrypt the request: \(openSSLErrorReason())"))
                return
            }
            writeSocket(tls.takeCiphertext(), completion: sent)
        } else {
            writeSocket(request, completion: sent)
        }
        if !exchange.isPaused { startReading() }
    }

    private func requestSent(_ ok: Bool, for sentExchange: UpstreamExchange) {
        guard state == .exchanging, exchange === sentExchange else { return }
        lastActivity = client.loop.now
        if ok {
            requestWritten = true
        } else if !sentExchange.responseStarted {
            // An answer already on its way (an early 413, say) is still read to its end.
            fail(.peerClosed("while the request was being sent"))
        }
    }

    func exchangePaused() {
        stopReading()
    }

    func exchangeResumed() {
        guard state == .exchanging, !delivering else { return }
        lastActivity = client.loop.now
        if !stash.isEmpty {
            let pending = stash
            stash = []
            parser.unpause()
            pending.withUnsafeBytes { deliver($0) }
        } else {
            parser.unpause()
        }
        guard state == .exchanging, let exchange, !exchange.isPaused, stash.isEmpty else { return }
        if tls != nil { pumpTLS() }
        if state == .exchanging { startReading() }
    }

    /// The handler gave up mid-exchange: what is left of the response makes the connection unusable.
    func abandon(_ abandoned: UpstreamExchange) {
        guard exchange === abandoned else { return }
        exchange = nil
        close()
    }

    private func completeExchange(reusable: Bool) {
        guard let exchange else { return }
        self.exchange = nil
        exchangesCompleted += 1
        stash.removeAll()
        // Back in the pool before the handler hears of it, so a request the handler sends next reuses it.
        if reusable {
            state = .idle
            lastActivity = client.loop.now
            if client.park(self) {
                arm(configuration.idleTimeoutMilliseconds)
                startReading()
            } else {
                close()
            }
        } else {
            close()
        }
        exchange.finish(nil)
    }

    /// Ends the current exchange with `error` (the client may send it again elsewhere) and closes.
    private func fail(_ error: UpstreamError) {
        let exchange = self.exchange
        self.exchange = nil
        let reused = exchangesCompleted > 0
        close()
        if let exchange { client.exchange(exchange, failed: error, onReusedConnection: reused) }
    }

    // MARK: Reading

    private var socketStream: UnsafeMutablePointer<uv_stream_t>? {
        tcp.map { stream(of: $0) }
    }

    private func stream(of tcp: UnsafeMutablePointer<uv_tcp_t>) -> UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
    }

    private func startReading() {
        guard !reading, let stream = socketStream, state != .closed else { return }
        reading = true
        uv_read_start(stream, { _, _, buffer in
            buffer!.pointee = uv_buf_t(base: sharedReadBuffer, len: sharedReadBufferSize)
        }, { stream, count, _ in
            Unmanaged<UpstreamConnection>.fromOpaque(stream!.pointee.data).takeUnretainedValue().didRead(count)
        })
    }

    private func stopReading() {
        guard reading, let stream = socketStream else { return }
        reading = false
        uv_read_stop(stream)
    }

    private func didRead(_ count: Int) {
        if count < 0 {
            peerEnded(count == Int(UV_EOF.rawValue) ? nil : uvErrorName(Int32(count)))
            return
        }
        guard count > 0 else { return }
        lastActivity = client.loop.now
        let bytes = UnsafeRawBufferPointer(start: sharedReadBuffer, count: count)
        if let tls {
            tls.receive(bytes)
            pumpTLS()
        } else {
            received(bytes)
        }
    }

    /// Decrypts and delivers until OpenSSL wants more ciphertext, the handler pauses, or the exchange ends.
    private func pumpTLS() {
        guard let tls else { return }
        if state == .handshaking {
            continueHandshake()
            guard state == .exchanging else { return }
        }
        while let plaintext, state == .exchanging || state == .idle, stash.isEmpty, exchange?.isPaused != true {
            switch tls.read(into: plaintext) {
            case .bytes(let count):
                received(UnsafeRawBufferPointer(rebasing: plaintext[..<count]))
            case .wantMore:
                flushTLS()
                return
            case .closed:
                flushTLS()
                peerEnded(nil)
                return
            case .failed(let reason):
                if state == .exchanging {
                    fail(.peerClosed("with a TLS error: \(reason)"))
                } else {
                    close()
                }
                return
            }
        }
        flushTLS()
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .exchanging:
            deliver(bytes)
        case .idle:
            // Nothing was asked: whatever this is, the connection's framing can no longer be trusted.
            close()
        default:
            break
        }
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer) {
        guard let exchange, !bytes.isEmpty else { return }
        exchange.responseStarted = true
        delivering = true
        let outcome = parser.parse(bytes, for: exchange)
        delivering = false
        guard state == .exchanging, self.exchange === exchange else { return }
        switch outcome {
        case .needMore:
            break
        case .paused(let consumed):
            stash.append(contentsOf: bytes[consumed...])
            stopReading()
        case .complete(let consumed, let keepAlive):
            completeExchange(reusable: keepAlive && consumed == bytes.count && requestWritten)
        case .stopped:
            abandon(exchange)
        case .failed(let reason):
            fail(.malformedResponse(reason))
        }
    }

    private func peerEnded(_ reason: String?) {
        let detail = reason.map { " (\($0))" } ?? ""
        switch state {
        case .exchanging:
            guard let exchange else { close(); return }
            guard exchange.responseStarted else {
                fail(.peerClosed("before answering\(detail)"))
                return
            }
            switch parser.finish(for: exchange) {
            case .complete:
                completeExchange(reusable: false)
            default:
                fail(.peerClosed("in the middle of the response\(detail)"))
            }
        case .handshaking:
            fail(.tlsHandshakeFailed(host: origin.host, reason: "the peer closed the connection\(detail)"))
        default:
            close()
        }
    }

    // MARK: Writing

    private func flushTLS() {
        guard let tls, state != .closed else { return }
        let bytes = tls.takeCiphertext()
        if !bytes.isEmpty { writeSocket(bytes) { _ in } }
    }

    private func writeSocket(_ bytes: [UInt8], completion: @escaping (Bool) -> Void) {
        guard let stream = socketStream, state != .closed else { completion(false); return }
        var written = 0
        bytes.withUnsafeBytes { raw in
            var buffer = uv_buf_t(base: UnsafeMutablePointer(mutating: raw.baseAddress?.assumingMemoryBound(to: CChar.self)), len: raw.count)
            let result = uv_try_write(stream, &buffer, 1)
            written = result >= 0 ? Int(result) : (result == Int32(UV_EAGAIN.rawValue) ? 0 : -1)
        }
        if written == bytes.count { completion(true); return }
        if written < 0 { completion(false); return }
        SocketWrite(bytes: bytes[written...], completion: completion).start(on: stream)
    }

    // MARK: Timer

    private func arm(_ milliseconds: UInt64) {
        uv_timer_start(timer, { timer in
            Unmanaged<UpstreamConnection>.fromOpaque(timer!.pointee.data).takeUnretainedValue().timerFired()
        }, milliseconds, 0)
    }

    /// One timer per connection; what it means depends on the state. Activity only moves a mark, and
    /// the timer re-arms for the rest when it fires early, so reads cost no timer operations.
    private func timerFired() {
        let quiet = client.loop.now - lastActivity
        switch state {
        case .resolving, .connecting, .handshaking:
            fail(.timeout(.connect, host: origin.host, milliseconds: configuration.connectTimeoutMilliseconds))
        case .exchanging:
            let limit = configuration.readTimeoutMilliseconds
            if exchange?.isPaused == true {
                lastActivity = client.loop.now
                arm(limit)
            } else if quiet >= limit {
                fail(.timeout(.read, host: origin.host, milliseconds: limit))
            } else {
                arm(limit - quiet)
            }
        case .idle:
            let limit = configuration.idleTimeoutMilliseconds
            if quiet >= limit { close() } else { arm(limit - quiet) }
        case .closed:
            break
        }
    }

    // MARK: Closing

    /// Closes the handles; an exchange still attached is the caller's to end (see `fail`, `abandon`).
    func close() {
        guard state != .closed else { return }
        state = .closed
        client.connectionClosed(self)
        stopReading()
        stash = []
        exchange = nil
        tls = nil
        closeSocket()
        uv_timer_stop(timer)
        uv_close(UnsafeMutableRawPointer(timer).assumingMemoryBound(to: uv_handle_t.self)) { handle in
            Unmanaged<UpstreamConnection>.fromOpaque(handle!.pointee.data).release()
        }
    }

    private func closeSocket() {
        guard let tcp else { return }
        self.tcp = nil
        reading = false
        uv_close(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self)) { handle in
            let connection = Unmanaged<UpstreamConnection>.fromOpaque(handle!.pointee.data)
            UnsafeMutableRawPointer(handle!).deallocate()
            connection.release()
        }
    }
}

private let sharedReadBufferSize = 64 * 1024
/// One socket read buffer for the loop: each read is consumed (parsed, or copied into OpenSSL) before the next.
nonisolated(unsafe) private let sharedReadBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: sharedReadBufferSize)
