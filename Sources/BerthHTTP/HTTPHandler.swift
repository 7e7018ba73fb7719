/// The application behind the server. HTTP knows nothing of what it serves.
public protocol HTTPHandler: AnyObject {
    /// Called on the loop when a request head is complete. The handler answers through the exchange,
    /// now or later, and says whether it wants the body (`receiveBody` / `collectBody`).
    func handle(_ exchange: HTTPExchange)

    /// The response for a failure found by the HTTP layer itself (malformed request, limits, timeouts).
    func protocolError(status: Int, message: String) -> HTTPResponse

    /// Called once per exchange when its answer is out (or its connection is gone): for metrics.
    func finished(_ exchange: HTTPExchange)
}

extension HTTPHandler {
    public func finished(_ exchange: HTTPExchange) {}
}

/// Consumes a streamed request body on the loop thread.
public protocol HTTPBodyReceiver: AnyObject {
    /// Bytes valid only during the call. After `pauseBody()` a few more calls may come
    /// (the rest of the current read), never more than one read buffer.
    func receive(_ bytes: UnsafeRawBufferPointer, exchange: HTTPExchange)
    /// The whole body has arrived.
    func finish(exchange: HTTPExchange)
    /// The connection ended before the body was complete.
    func abort(exchange: HTTPExchange)
}

/// Limits checked at the edge, each answered early with its status and a close.
public struct HTTPLimits {
    public var maxHeaderBytes = 64 * 1024
    public var maxHeaderCount = 128
    public var maxTargetBytes = 16 * 1024
    public var headerTimeoutMilliseconds: UInt64 = 30_000
    public var idleTimeoutMilliseconds: UInt64 = 120_000
    /// Every request body and every response: a peer that moves less is cut (408 while it sends a body,
    /// a reset while it should take an answer).
    public var progress = ProgressRule()
    /// Connections one client address may hold open at once in this process (0: no limit); more are closed
    /// as soon as they are accepted.
    public var maxConnectionsPerClient = 0
    /// After SIGTERM, requests still running past this are cut.
    public var drainTimeoutMilliseconds: UInt64 = 30_000
    /// Body bytes read and dropped after an early answer before the connection is closed instead.
    public var discardBudget: Int64 = 64 * 1024 * 1024

    public init() {}
}
