/// The life of one upstream connection as a value: opening (resolve, connect, a CONNECT tunnel through an
/// egress proxy for https, handshake), one exchange at a
/// time, parked between them. Events in, actions out, no I/O: UpstreamConnection performs the actions, and
/// every transition is tested without a socket (UpstreamConnectionStateMachineTests).
struct UpstreamConnectionStateMachine {
    enum State: Equatable {
        case resolving
        case connecting
        /// Connected to the egress proxy, its answer to `CONNECT host:port` awaited.
        case tunnelling
        case handshaking
        /// Ready and in the pool; still reading, to notice the peer closing.
        case idle
        /// A request is on the connection; `requestWritten` once all of it went to the socket.
        case exchanging(requestWritten: Bool)
        case closed
    }

    struct Timeouts {
        var connectMilliseconds: UInt64
        var readMilliseconds: UInt64
        var idleMilliseconds: UInt64
    }

    private(set) var state = State.resolving
    private var tunnelAnswer = ProxyTunnelAnswer()
    /// Exchanges completed: a connection that has served one is a reused one for the next.
    private(set) var exchangesCompleted = 0
    /// When bytes last moved: the read and idle limits count from here. Activity only moves this mark, and
    /// the one timer re-arms for the rest when it fires early, so reads cost no timer operations.
    private(set) var lastActivity: UInt64
    let timeouts: Timeouts

    init(now: UInt64, timeouts: Timeouts) {
        lastActivity = now
        self.timeouts = timeouts
    }

    var isClosed: Bool { state == .closed }
    var isExchanging: Bool {
        if case .exchanging = state { return true }
        return false
    }

    // MARK: Opening

    mutating func resolving() { state = .resolving }
    mutating func connecting() { state = .connecting }
    mutating func handshaking() { state = .handshaking }
    mutating func tunnelling() { state = .tunnelling }

    enum TunnelStep: Equatable {
        case wait
        /// The proxy opened the tunnel: the TLS handshake with the upstream begins, fed `leftover` first.
        case handshake(leftover: [UInt8])
        /// The proxy answered the CONNECT with a failure: the connection cannot reach the upstream.
        case refused(status: Int, reason: String)
        case malformed(String)
        case ignore
    }

    /// Bytes from the proxy while the tunnel is being opened.
    mutating func tunnelBytesArrived(_ bytes: UnsafeRawBufferPointer) -> TunnelStep {
        guard state == .tunnelling else { return .ignore }
        switch tunnelAnswer.feed(bytes) {
        case .needMore:
            return .wait
        case .established(let leftover):
            tunnelAnswer = ProxyTunnelAnswer()
            state = .handshaking
            return .handshake(leftover: leftover)
        case .refused(let status, let reason):
            return .refused(status: status, reason: reason)
        case .malformed(let reason):
            return .malformed(reason)
        }
    }

    // MARK: Exchanges

    /// A request goes out on this connection (fresh, or taken from the pool). Returns the read timeout to arm.
    mutating func begin(now: UInt64) -> UInt64 {
        state = .exchanging(requestWritten: false)
        lastActivity = now
        return timeouts.readMilliseconds
    }

    mutating func bytesMoved(now: UInt64) {
        lastActivity = now
    }

    enum WriteOutcome: Equatable {
        case none
        /// The request could not be sent and no answer is on its way: end the exchange with this reason.
        case fail(String)
    }

    /// The request's bytes went to the socket (`ok`), or the socket refused them.
    mutating func requestSent(ok: Bool, responseStarted: Bool, now: UInt64) -> WriteOutcome {
        guard case .exchanging = state else { return .none }
        lastActivity = now
        if ok {
            state = .exchanging(requestWritten: true)
            return .none
        }
        // An answer already on its way (an early 413, say) is still read to its end.
        return responseStarted ? .none : .fail("while the request was being sent")
    }

    /// The response ended. The connection can serve another exchange only when the peer keeps it alive, sent
    /// nothing past the response, and took the whole request.
    mutating func responseComplete(keepAlive: Bool, bytesLeftOver: Bool) -> Bool {
        guard case .exchanging(let requestWritten) = state else { return false }
        exchangesCompleted += 1
        return keepAlive && !bytesLeftOver && requestWritten
    }

    /// The connection is back in the pool. Returns the idle timeout to arm.
    mutating func parked(now: UInt64) -> UInt64 {
        state = .idle
        lastActivity = now
        return timeouts.idleMilliseconds
    }

    enum Arrival: Equatable {
        case deliver
        /// Bytes nobody asked for (on a parked connection): its framing can no longer be trusted.
        case close
        case ignore
    }

    func bytesArrived() -> Arrival {
        switch state {
        case .exchanging: return .deliver
        case .idle: return .close
        default: return .ignore
        }
    }

    enum PeerEnd: Equatable {
        /// The peer closed before answering: the exchange fails (and may be sent again elsewhere).
        case failBeforeAnswer
        /// The response may be delimited by the close: ask the parser whether it is complete.
        case finishResponse
        case failHandshake
        case close
    }

    func peerEnded(responseStarted: Bool) -> PeerEnd {
        switch state {
        case .exchanging: return responseStarted ? .finishResponse : .failBeforeAnswer
        case .handshaking: return .failHandshake
        default: return .close
        }
    }

    // MARK: Timer

    enum TimerAction: Equatable {
        case rearm(UInt64)
        case connectTimedOut
        case readTimedOut
        case close
        case none
    }

    /// One timer per connection; what it means depends on the state. A paused exchange is Berth's own
    /// doing, so its read timeout does not run.
    mutating func timerFired(now: UInt64, exchangePaused: Bool) -> TimerAction {
        let quiet = now - lastActivity
        switch state {
        case .resolving, .connecting, .tunnelling, .handshaking:
            return .connectTimedOut
        case .exchanging:
            let limit = timeouts.readMilliseconds
            if exchangePaused {
                lastActivity = now
                return .rearm(limit)
            }
            return quiet >= limit ? .readTimedOut : .rearm(limit - quiet)
        case .idle:
            let limit = timeouts.idleMilliseconds
            return quiet >= limit ? .close : .rearm(limit - quiet)
        case .closed:
            return .none
        }
    }

    // MARK: Closing

    /// False when it was closed already.
    mutating func close() -> Bool {
        guard state != .closed else { return false }
        state = .closed
        return true
    }
}
