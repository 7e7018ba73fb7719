/// What is true of one harness connection, and what its I/O must do next. Pure: events in, actions out.
/// One request at a time (no pipelining), kept alive as long as the server allows; a connection the server
/// closes is opened again, and the request it was answering counts as failed.
public struct BenchConnectionStateMachine: Equatable {
    public enum State: Equatable {
        case connecting
        case idle
        case awaitingResponse
        /// Waits for the run: for the token its request needs (the 401 was a Bearer challenge, not timed), or
        /// for the next request of a pull-image operation, which another connection's answer releases.
        case parked
        /// Our own close before opening again (the server ended keep-alive, or a request failed).
        case reconnecting
        case closed
    }

    public enum Action: Equatable {
        case none
        /// Ask the run for the next request (the next step of this operation, or a new one) and send it.
        case issueNext
        /// Hand the response to the run; with `reconnect`, close the socket and connect again afterwards.
        case deliverResponse(reconnect: Bool)
        /// The request in flight has no answer: count it failed, then close and connect again.
        case failRequest
        /// Close and connect again; no request was lost (the server dropped an idle connection).
        case reconnect
        /// The socket could not be opened: count it, and give the connection up.
        case giveUp
        /// Nothing more to send: close for good.
        case close
    }

    public private(set) var state: State = .connecting

    public init() {}

    public mutating func connected(ok: Bool) -> Action {
        guard state == .connecting else { return .none }
        if ok {
            state = .idle
            return .issueNext
        }
        state = .closed
        return .giveUp
    }

    /// The run had a request for the idle connection (true) or nothing more (false).
    public mutating func issued(_ sent: Bool) -> Action {
        guard state == .idle else { return .none }
        if sent {
            state = .awaitingResponse
            return .none
        }
        state = .closed
        return .close
    }

    /// The request to send next waits for a token, or there is none yet.
    public mutating func park() -> Action {
        guard state == .idle else { return .none }
        state = .parked
        return .none
    }

    /// The token came (or its fetch failed, and the run has the next request ready anyway), or there may be work.
    public mutating func resume() -> Action {
        guard state == .parked else { return .none }
        state = .idle
        return .issueNext
    }

    public mutating func responseComplete(keepAlive: Bool) -> Action {
        guard state == .awaitingResponse else { return .none }
        state = keepAlive ? .idle : .reconnecting
        return .deliverResponse(reconnect: !keepAlive)
    }

    /// A write failed, a read failed, or the server closed its side.
    public mutating func streamEnded() -> Action {
        switch state {
        case .awaitingResponse:
            state = .reconnecting
            return .failRequest
        case .idle, .parked:
            state = .reconnecting
            return .reconnect
        case .connecting:
            state = .closed
            return .giveUp
        case .reconnecting, .closed:
            return .none
        }
    }

    /// No answer (or no connection) within the run's timeout: the same as a failed stream, counted apart.
    public mutating func timedOut() -> Action {
        switch state {
        case .awaitingResponse, .connecting: return streamEnded()
        case .idle, .parked, .reconnecting, .closed: return .none
        }
    }

    /// The old socket is closed: connect again, or report the connection closed.
    public mutating func socketClosed() -> Bool {
        guard state == .reconnecting else { return false }
        state = .connecting
        return true
    }
}
