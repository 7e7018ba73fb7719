import BerthHTTP
import CLibUV
import Glibc

/// One connection to an upstream origin, plain or TLS: one exchange at a time, parked in the client's
/// pool between them. Loop-confined. It retains itself once per open libuv handle and per request in
/// flight, and each callback releases its share, so it lives exactly as long as libuv needs it.
/// What is true of it is UpstreamConnectionStateMachine's; this class performs the I/O (opening in
/// UpstreamConnection+Opening).
final class UpstreamConnection {
    let route: UpstreamRoute
    var origin: UpstreamOrigin { route.origin }
    let client: UpstreamClient
    var machine: UpstreamConnectionStateMachine
    var exchange: UpstreamExchange?
    var currentExchange: UpstreamExchange? { exchange }

    /// One per connect attempt (a failed attempt's socket cannot be reused for the next address).
    var tcp: UnsafeMutablePointer<uv_tcp_t>?
    private let timer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    var addresses: [sockaddr_storage] = []
    var connectError: UpstreamError?
    /// TLS sits above the transport: ciphertext goes through the socket, plaintext to the parser.
    var tls: TLSSession?
    /// Decrypted bytes; per connection because a handler's `resume` of another exchange may run while
    /// this one's bytes are being delivered.
    var plaintext: UnsafeMutableRawBufferPointer?
    private let parser = ResponseParser()
    /// Response bytes read past a pause, delivered on resume.
    private var stash: [UInt8] = []
    /// Whether libuv is reading the socket.
    private var reading = false
    /// Set while the parser delivers bytes to the handler: a `resume` from inside it waits for the return.
    private var delivering = false

    init(client: UpstreamClient, route: UpstreamRoute) {
        self.client = client
        self.route = route
        let configuration = client.configuration
        machine = UpstreamConnectionStateMachine(now: client.loop.now, timeouts: .init(
            connectMilliseconds: configuration.connectTimeoutMilliseconds,
            readMilliseconds: configuration.readTimeoutMilliseconds,
            idleMilliseconds: configuration.idleTimeoutMilliseconds))
        uv_timer_init(client.loop.raw, timer)
        timer.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    deinit {
        timer.deallocate()
        plaintext?.deallocate()
    }

    var transport: StreamTransport? { tcp.map(StreamTransport.init) }

    // MARK: Exchanges

    /// Sends `exchange`'s request on this connection (fresh, or taken from the pool).
    func begin(_ exchange: UpstreamExchange) {
        self.exchange = exchange
        exchange.attached(to: self)
        parser.reset(requestWasHead: exchange.request.isHead)
        stash.removeAll()
        arm(machine.begin(now: client.loop.now))
        let request = exchange.request.serialized(userAgent: client.configuration.userAgent, through: origin.isTLS ? nil : route.proxy)
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
        guard exchange === sentExchange else { return }
        if case .fail(let reason) = machine.requestSent(ok: ok, responseStarted: sentExchange.responseStarted, now: client.loop.now) {
            fail(.peerClosed(reason))
        }
    }

    func exchangePaused() {
        stopReading()
    }

    func exchangeResumed() {
        guard machine.isExchanging, !delivering else { return }
        machine.bytesMoved(now: client.loop.now)
        if !stash.isEmpty {
            let pending = stash
            stash = []
            parser.unpause()
            pending.withUnsafeBytes { deliver($0) }
        } else {
            parser.unpause()
        }
        guard machine.isExchanging, let exchange, !exchange.isPaused, stash.isEmpty else { return }
        if tls != nil { pumpTLS() }
        if machine.isExchanging { startReading() }
    }

    /// The handler gave up mid-exchange: what is left of the response makes the connection unusable.
    func abandon(_ abandoned: UpstreamExchange) {
        guard exchange === abandoned else { return }
        exchange = nil
        close()
    }

    private func completeExchange(keepAlive: Bool, bytesLeftOver: Bool) {
        guard let exchange else { return }
        let reusable = machine.responseComplete(keepAlive: keepAlive, bytesLeftOver: bytesLeftOver)
        self.exchange = nil
        stash.removeAll()
        // Back in the pool before the handler hears of it, so a request the handler sends next reuses it.
        if reusable {
            let idleTimeout = machine.parked(now: client.loop.now)
            if client.park(self) {
                arm(idleTimeout)
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
    func fail(_ error: UpstreamError) {
        let exchange = self.exchange
        self.exchange = nil
        let reused = machine.exchangesCompleted > 0
        close()
        if let exchange { client.exchange(exchange, failed: error, onReusedConnection: reused) }
    }

    // MARK: Reading

    func startReading() {
        guard !reading, let transport, !machine.isClosed else { return }
        reading = true
        transport.startReading(allocating: { handle, _, buffer in
            let connection = Unmanaged<UpstreamConnection>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            buffer!.pointee = connection.readDestination(handle!)
        }, { stream, count, buffer in
            let bytes = UnsafeRawBufferPointer(start: buffer!.pointee.base, count: max(0, count))
            Unmanaged<UpstreamConnection>.fromOpaque(stream!.pointee.data).takeUnretainedValue().didRead(count, bytes)
        })
    }

    /// A plain body is read straight into the handler's memory when it offers some, so a blob's bytes
    /// are copied once, by the kernel; anything else goes to the loop's buffer. (Ciphertext always does:
    /// it is decrypted into the handler's memory, see `pumpTLS`.)
    private func readDestination(_ handle: UnsafeMutablePointer<uv_handle_t>) -> uv_buf_t {
        if tls == nil, let destination = exchange?.bodyDestination {
            return uv_buf_t(base: destination.baseAddress?.assumingMemoryBound(to: CChar.self), len: destination.count)
        }
        return StreamTransport.loopReadBuffer(of: handle)
    }

    private func stopReading() {
        guard reading, let transport else { return }
        reading = false
        transport.stopReading()
    }

    private func didRead(_ count: Int, _ bytes: UnsafeRawBufferPointer) {
        if count < 0 {
            peerEnded(count == Int(UV_EOF.rawValue) ? nil : uvErrorName(Int32(count)))
            return
        }
        guard count > 0 else { return }
        machine.bytesMoved(now: client.loop.now)
        if let tls {
            tls.lend(bytes)
            pumpTLS()
            guard tls.keepUnread() else {
                return machine.isExchanging ? fail(.peerClosed("with no memory left for its TLS records")) : close()
            }
        } else {
            received(bytes)
        }
    }

    /// Decrypts and delivers until OpenSSL wants more ciphertext, the handler pauses, or the exchange ends.
    func pumpTLS() {
        guard let tls else { return }
        if machine.state == .handshaking {
            continueHandshake()
            guard machine.isExchanging else { return }
        }
        while let plaintext, machine.isExchanging || machine.state == .idle, stash.isEmpty, exchange?.isPaused != true {
            let destination = exchange?.bodyDestination ?? plaintext
            switch tls.read(into: destination) {
            case .bytes(let count):
                received(UnsafeRawBufferPointer(rebasing: destination[..<count]))
            case .wantMore:
                flushTLS()
                return
            case .closed:
                flushTLS()
                peerEnded(nil)
                return
            case .failed(let reason):
                if machine.isExchanging {
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
        switch machine.bytesArrived() {
        case .deliver: deliver(bytes)
        case .close: close()
        case .ignore: break
        }
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer) {
        guard let exchange, !bytes.isEmpty else { return }
        exchange.responseStarted = true
        delivering = true
        let outcome = parser.parse(bytes, for: exchange)
        delivering = false
        guard machine.isExchanging, self.exchange === exchange else { return }
        switch outcome {
        case .needMore:
            break
        case .paused(let consumed):
            stash.append(contentsOf: bytes[consumed...])
            stopReading()
        case .complete(let consumed, let keepAlive):
            completeExchange(keepAlive: keepAlive, bytesLeftOver: consumed != bytes.count)
        case .stopped:
            abandon(exchange)
        case .failed(let reason):
            fail(.malformedResponse(reason))
        }
    }

    private func peerEnded(_ reason: String?) {
        let detail = reason.map { " (\($0))" } ?? ""
        switch machine.peerEnded(responseStarted: exchange?.responseStarted ?? false) {
        case .failBeforeAnswer:
            fail(.peerClosed("before answering\(detail)"))
        case .finishResponse:
            guard let exchange else { close(); return }
            if case .complete = parser.finish(for: exchange) {
                completeExchange(keepAlive: false, bytesLeftOver: false)
            } else {
                fail(.peerClosed("in the middle of the response\(detail)"))
            }
        case .failHandshake:
            fail(.tlsHandshakeFailed(host: origin.host, reason: "the peer closed the connection\(detail)"))
        case .close:
            close()
        }
    }

    // MARK: Writing

    func flushTLS() {
        guard let tls, !machine.isClosed else { return }
        let bytes = tls.takeCiphertext()
        if !bytes.isEmpty { writeSocket(bytes) { _ in } }
    }

    private func writeSocket(_ bytes: [UInt8], completion: @escaping (Bool) -> Void) {
        guard let transport, !machine.isClosed else { completion(false); return }
        transport.write(bytes, completion: completion)
    }

    // MARK: Timer

    func arm(_ milliseconds: UInt64) {
        uv_timer_start(timer, { timer in
            Unmanaged<UpstreamConnection>.fromOpaque(timer!.pointee.data).takeUnretainedValue().timerFired()
        }, milliseconds, 0)
    }

    private func timerFired() {
        switch machine.timerFired(now: client.loop.now, exchangePaused: exchange?.isPaused == true) {
        case .rearm(let milliseconds):
            arm(milliseconds)
        case .connectTimedOut:
            fail(connectTimeoutError)
        case .readTimedOut:
            fail(.timeout(.read, host: origin.host, milliseconds: machine.timeouts.readMilliseconds))
        case .close:
            close()
        case .none:
            break
        }
    }

    // MARK: Closing

    /// Closes the handles; an exchange still attached is the caller's to end (see `fail`, `abandon`).
    func close() {
        guard machine.close() else { return }
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

    func closeSocket() {
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
