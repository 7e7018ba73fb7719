/// The life of one server connection as a value: events in (bytes arrived, a head is complete, the answer
/// is out, a tick of the clock, a shutdown), actions out. No I/O: HTTPConnection performs the actions, and
/// every transition is tested without a socket (HTTPConnectionStateMachineTests).
///
/// Requests are answered one at a time and in order: while an answer is pending, pipelined input waits
/// unparsed (the parser is paused), and the request body of an answer sent early is read and discarded.
struct HTTPConnectionStateMachine {
    /// How far the answer of the current request is.
    enum Answer: Equatable {
        /// The handler has not answered yet.
        case pending
        /// Its bytes are going out from the loop.
        case writing
        /// A blocking sendfile on a pool thread owns the socket: nothing may read it or close it until it is done.
        case transferringInPool
        /// Out; the request body may still be arriving (it is discarded).
        case sent
    }

    enum State: Equatable {
        /// A TLS connection before its first request: the handshake is under way.
        case handshaking(since: UInt64)
        /// Between requests: waiting for the first byte of the next one.
        case idle
        case readingHead(since: UInt64)
        /// The head went to the handler and its body is arriving; `held` while the handler holds it back.
        case readingBody(answer: Answer, held: Bool)
        /// The whole request is in (or was refused) and its answer is not out yet (`.sent` only on the way
        /// to closing).
        case answering(Answer)
        case closed
    }

    private(set) var state = State.idle
    /// The connection closes once the current answer is out: the client asked for it, the server is
    /// draining, or the rest of the request cannot be read.
    private(set) var closesAfterAnswer = false
    /// When the connection last moved (a read, a head, an answer finished): the idle limit counts from here.
    private(set) var lastActivity: UInt64
    /// The body being received must keep arriving, and the peer must keep taking what was written to it.
    private(set) var bodyProgress = ProgressDeadline()
    private(set) var outputProgress = ProgressDeadline()

    /// `tls`: the connection begins with a handshake, which must end within the head's time limit.
    init(now: UInt64, tls: Bool = false) {
        lastActivity = now
        if tls { state = .handshaking(since: now) }
    }

    // MARK: Reading

    /// Whether the socket is read: not while an answer is pending (pipelined input waits), not while the
    /// handler holds the body back, and not while a pool thread owns the socket.
    var readsInput: Bool {
        switch state {
        case .handshaking, .idle, .readingHead: return true
        case .readingBody(let answer, let held): return !held && answer != .transferringInPool
        case .answering, .closed: return false
        }
    }

    var isClosed: Bool { state == .closed }

    /// True while a request is between its head and the end of its answer.
    var hasExchange: Bool {
        switch state {
        case .readingBody, .answering: return true
        case .handshaking, .idle, .readingHead, .closed: return false
        }
    }

    var isHandshaking: Bool {
        if case .handshaking = state { return true }
        return false
    }

    var isTransferringInPool: Bool {
        switch state {
        case .readingBody(.transferringInPool, _), .answering(.transferringInPool): return true
        default: return false
        }
    }

    mutating func bytesArrived(now: UInt64) {
        lastActivity = now
    }

    /// The TLS handshake is done: the connection waits for its first request, under the idle limit.
    mutating func handshakeDone(now: UInt64) {
        guard case .handshaking = state else { return }
        state = .idle
        lastActivity = now
    }

    // MARK: Parser events

    mutating func messageBegins(now: UInt64) {
        state = .readingHead(since: now)
    }

    /// The head is complete and goes to the handler.
    mutating func headComplete(now: UInt64, draining: Bool) {
        state = .readingBody(answer: .pending, held: false)
        lastActivity = now
        if draining { closesAfterAnswer = true }
    }

    /// The handler holds the body back (the disk is behind) or lets it come again. The time Berth holds the
    /// body is not the peer's: its progress window starts again after a hold.
    mutating func bodyHeld(_ held: Bool) {
        bodyProgress.disarm()
        if case .readingBody(let answer, _) = state { state = .readingBody(answer: answer, held: held) }
    }

    enum RequestEnd: Equatable {
        /// The answer is out too: the exchange is finished and the next request may follow at once.
        case next
        /// The answer is not out: the parser stops here until it is.
        case pauseParser
        /// The connection closed while the request ended.
        case stop
    }

    /// The request's last byte arrived. Called in two steps around the handler's `bodyComplete`, which may
    /// answer at once: `requestEnds` before it, `requestEnded` after.
    mutating func requestEnds(now: UInt64) {
        guard case .readingBody(let answer, _) = state else { return }
        if answer == .sent {
            state = .idle
            lastActivity = now
        } else {
            state = .answering(answer)
        }
    }

    func requestEnded() -> RequestEnd {
        switch state {
        case .closed: return .stop
        case .answering: return .pauseParser
        case .handshaking, .idle, .readingHead, .readingBody: return .next
        }
    }

    /// A request refused before or outside an exchange (malformed, too large, too slow): its answer is the
    /// last, and nothing more is read.
    mutating func refuse() {
        state = .answering(.pending)
        closesAfterAnswer = true
    }

    enum UnreadableBody: Equatable {
        /// No answer has started: refuse the request; that answer is the last.
        case refuse
        /// The handler's answer is going out: it stays the only one; close once it is out.
        case closeAfterAnswer
        /// The handler's answer is out: close now.
        case closeNow
    }

    /// The rest of the request body cannot be read (malformed framing, a stalled peer). RFC 9112 gives one
    /// request one response: when the handler answered before the body ended, no refusal may follow it.
    mutating func bodyUnreadable() -> UnreadableBody {
        guard case .readingBody(let answer, _) = state, answer != .pending else { return .refuse }
        if answer == .sent { return .closeNow }
        closesAfterAnswer = true
        // Nothing more is read (as for a held body), and so no body deadline runs.
        state = .readingBody(answer: answer, held: true)
        return .closeAfterAnswer
    }

    // MARK: Answering

    /// The handler answered. Returns whether the answer says `Connection: close`.
    /// `withheldBody`: the client waits for `100 Continue` that was not sent; the only way to end its
    /// request is to close.
    mutating func answerStarts(keepAlive: Bool, draining: Bool, withheldBody: Bool) -> Bool {
        switch state {
        case .readingBody(_, let held):
            if withheldBody { closesAfterAnswer = true }
            state = .readingBody(answer: .writing, held: held)
        case .answering:
            state = .answering(.writing)
        default:
            break
        }
        if !keepAlive || draining { closesAfterAnswer = true }
        return closesAfterAnswer
    }

    /// A large file's rest goes out from a pool thread, or came back from it.
    mutating func transferInPool(_ inPool: Bool) {
        let answer: Answer = inPool ? .transferringInPool : .writing
        switch state {
        case .readingBody(_, let held): state = .readingBody(answer: answer, held: held)
        case .answering: state = .answering(answer)
        default: break
        }
    }

    enum AnswerOutcome: Equatable {
        /// Log the exchange and close.
        case close
        /// Log the exchange; the next request may be parsed.
        case finishExchange
        /// The request body is still arriving: keep reading (and discarding) until it ends.
        case awaitRequestEnd
        case none
    }

    mutating func answerSent(now: UInt64) -> AnswerOutcome {
        switch state {
        case .readingBody(_, let held):
            state = .readingBody(answer: .sent, held: held)
            return closesAfterAnswer ? .close : .awaitRequestEnd
        case .answering:
            if closesAfterAnswer {
                state = .answering(.sent)
                return .close
            }
            state = .idle
            lastActivity = now
            return .finishExchange
        case .handshaking, .idle, .readingHead, .closed:
            return .none
        }
    }

    // MARK: Closing

    /// Shutdown: close now when idle or still in its handshake (no request yet), or after the current answer.
    mutating func drain() -> Bool {
        closesAfterAnswer = true
        return state == .idle || isHandshaking
    }

    enum CloseDecision: Equatable {
        /// Close the handle; `abortsExchange`: a request was cut before its answer was out (logged as aborted).
        case closeNow(abortsExchange: Bool)
        /// A pool thread owns the socket: the connection closes when it gives it back.
        case afterTransfer
        case alreadyClosed
    }

    mutating func close() -> CloseDecision {
        if isTransferringInPool {
            closesAfterAnswer = true
            return .afterTransfer
        }
        let aborts: Bool
        switch state {
        case .closed: return .alreadyClosed
        case .readingBody(let answer, _), .answering(let answer): aborts = answer != .sent
        case .handshaking, .idle, .readingHead: aborts = false
        }
        state = .closed
        return .closeNow(abortsExchange: aborts)
    }

    // MARK: Deadlines

    enum Deadline: Equatable {
        case none
        /// Idle past the limit: close quietly.
        case idleExpired
        /// The TLS handshake did not end within the head's limit: close (there is no HTTP to answer in).
        case handshakeExpired
        /// The head did not arrive within its limit: answer 408 and close.
        case headExpired
        /// The body moved slower than the progress rule: answer 408 and close.
        case bodyStalled
        /// The peer stopped taking its answer: reset the connection.
        case outputStalled
    }

    /// How far the body is: bytes received so far and, when its length is known, still to come.
    struct BodySample {
        var received: Int64
        var remaining: Int64?
    }

    /// One look every second. `body`: the current exchange's body, if any. `output`: what the peer has
    /// acknowledged (TCP_INFO), nil when nothing it was sent is waiting for it.
    mutating func tick(now: UInt64, limits: HTTPLimits, body: BodySample?, acknowledged output: Int64?) -> Deadline {
        switch state {
        case .closed:
            return .none
        case .idle where now - lastActivity > limits.idleTimeoutMilliseconds:
            return .idleExpired
        case .handshaking(let since) where now - since > limits.headerTimeoutMilliseconds:
            return .handshakeExpired
        case .readingHead(let since) where now - since > limits.headerTimeoutMilliseconds:
            return .headExpired
        default:
            break
        }
        if case .readingBody = state, readsInput, let body {
            if bodyProgress.observe(moved: body.received, remaining: body.remaining, now: now, rule: limits.progress) == .expired {
                return .bodyStalled
            }
        } else {
            bodyProgress.disarm()
        }
        guard let output else {
            outputProgress.disarm()
            return .none
        }
        return outputProgress.observe(moved: output, remaining: nil, now: now, rule: limits.progress) == .expired
            ? .outputStalled : .none
    }
}
