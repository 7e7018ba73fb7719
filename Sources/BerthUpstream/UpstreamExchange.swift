/// One request on its way upstream and its response coming back: the handle a handler uses to
/// apply back-pressure or give up. Loop-confined.
public final class UpstreamExchange {
    enum Phase {
        /// Waiting for a connection (resolving, connecting, handshaking).
        case connecting
        /// The request is on a connection; no final head yet.
        case awaitingHead
        case receivingBody
        case ended
    }

    public let request: UpstreamRequest
    private(set) var phase = Phase.connecting
    private var handler: UpstreamResponseHandler?
    /// The connection working for this exchange; it holds the exchange, not the other way round.
    weak var connection: UpstreamConnection?
    public private(set) var isPaused = false
    /// Body bytes delivered so far.
    public private(set) var bodyBytesReceived: Int64 = 0
    /// A byte of the response has arrived: from then on a failure is the upstream's, never a stale socket's.
    var responseStarted = false
    /// Already sent again once on a fresh connection after a stale pooled one failed.
    var retried = false

    init(request: UpstreamRequest, handler: UpstreamResponseHandler) {
        self.request = request
        self.handler = handler
    }

    var hasEnded: Bool { phase == .ended }

    /// No more `body` calls until `resume()`; reading from the upstream stops, so the peer's
    /// sending stops too once the socket buffers are full. The read timeout does not run while paused.
    public func pause() {
        guard !isPaused, !hasEnded else { return }
        isPaused = true
        connection?.exchangePaused()
    }

    /// Delivers what was read before the pause (possibly before returning), then reads on.
    public func resume() {
        guard isPaused, !hasEnded else { return }
        isPaused = false
        connection?.exchangeResumed()
    }

    /// Ends the exchange now: the connection is closed (it is mid-response, so not reusable) and the
    /// handler's `end(error: .cancelled)` runs before this returns.
    public func cancel() {
        guard !hasEnded else { return }
        let connection = self.connection
        self.connection = nil
        connection?.abandon(self)
        finish(.cancelled)
    }

    func attached(to connection: UpstreamConnection) {
        self.connection = connection
        if phase == .connecting { phase = .awaitingHead }
    }

    func deliverHead(status: Int, headers: UpstreamHeaders) {
        guard phase == .awaitingHead else { return }
        phase = .receivingBody
        handler?.head(status: status, headers: headers, exchange: self)
    }

    func deliverBody(_ bytes: UnsafeRawBufferPointer) {
        guard phase == .receivingBody else { return }
        bodyBytesReceived += Int64(bytes.count)
        handler?.body(bytes)
    }

    /// Where the connection may read the next bytes to (see `UpstreamResponseHandler.bodyDestination`):
    /// only inside the body, while it is wanted, and only when large enough to be worth a read of its own.
    var bodyDestination: UnsafeMutableRawBufferPointer? {
        guard phase == .receivingBody, !isPaused, let destination = handler?.bodyDestination(),
              destination.count >= Self.minimumBodyDestination else { return nil }
        return destination
    }

    private static let minimumBodyDestination = 64 << 10

    /// Exactly once; lets go of the handler, which usually holds this exchange.
    func finish(_ error: UpstreamError?) {
        guard !hasEnded else { return }
        phase = .ended
        connection = nil
        let handler = self.handler
        self.handler = nil
        handler?.end(error: error)
    }
}
