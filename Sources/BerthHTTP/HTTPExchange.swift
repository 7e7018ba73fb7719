import CLibUV

/// One request and its response. Loop-confined; outlives its connection harmlessly (answers go nowhere).
public final class HTTPExchange {
    public let request: HTTPRequestHead
    public let loop: EventLoop
    /// Strong, not weak: a weak reference gives the connection a side table, and every retain and release of
    /// it then takes the runtime's slow path (about 5 % of a kept-alive TLS manifest GET). The connection lets
    /// go of it when the exchange is finished or the connection closes (`finishExchange`, `close`).
    @exclusivity(unchecked) var connection: HTTPConnection?

    @exclusivity(unchecked) var receiver: HTTPBodyReceiver?
    var collected: [UInt8]?
    var collectLimit = 0
    @exclusivity(unchecked) var collectCompletion: (([UInt8]?) -> Void)?
    @exclusivity(unchecked) var continueSent = false
    var discarded: Int64 = 0
    /// Body bytes that arrived while the handler held the body (`holdBody`), and whether the body ended meanwhile.
    @exclusivity(unchecked) var held: [UInt8]?
    var heldBodyEnded = false

    /// Unchecked like HTTPConnection's per-request properties: plain stores, no call out while they change.
    @exclusivity(unchecked) var responded = false
    @exclusivity(unchecked) public internal(set) var status = 0
    @exclusivity(unchecked) public internal(set) var bytesSent: Int64 = 0
    /// File body bytes that went out over TLS by read + SSL_write (no kernel TLS here to sendfile them).
    @exclusivity(unchecked) public internal(set) var tlsFallbackBodyBytes: Int64 = 0
    @exclusivity(unchecked) public internal(set) var bytesReceived: Int64 = 0
    let startedAt = uv_hrtime()
    /// What the application calls this kind of request, for its metrics (a route name).
    @exclusivity(unchecked) public var label = "none"
    /// One field the application adds to this request's JSON access line (the mirror's `cache` result):
    /// static strings, so that noting it allocates nothing.
    public var logNote: (key: StaticString, value: StaticString)?

    /// Seconds since the request head was complete.
    public var elapsedSeconds: Double { Double(uv_hrtime() - startedAt) / 1e9 }

    /// The answer to a head refused before any handler saw it (`answerAndClose`): neither logged nor counted.
    /// A flag, not the target "-" compared as a String on every request (~70 instructions each time).
    let isRefusal: Bool

    init(request: HTTPRequestHead, loop: EventLoop, connection: HTTPConnection, isRefusal: Bool = false) {
        self.request = request
        self.loop = loop
        self.connection = connection
        self.isRefusal = isRefusal
    }

    /// True while the client can still be answered.
    public var isOpen: Bool { connection != nil && !responded }

    /// True while the client can be answered and has not closed its side: a connection is not read while
    /// its request waits for an answer, so only a peek at the socket tells (a system call: for long waits).
    public var isStillWaited: Bool { isOpen && connection?.transport.peerHasClosed == false }

    /// Whether the request came over TLS (a challenge's realm on the same host takes its scheme).
    public var isTLS: Bool { connection?.tls != nil }

    /// The client's IP address (nil once the connection is gone).
    public var clientAddress: ClientAddress? { connection?.peer?.client }

    /// Streams the body to `receiver` as it arrives (sends `100 Continue` when the client waits for it).
    public func receiveBody(into receiver: HTTPBodyReceiver) {
        self.receiver = receiver
        connection?.bodyAccepted(self)
        replayHeldBody()
    }

    /// Holds the body back while the handler decides what to do with the request off the loop (a password check
    /// on the pool): reading stops, and the rest of the current read is kept (at most one read buffer), to be
    /// given to a later `receiveBody` or `collectBody`, or dropped by `releaseHeldBody`.
    public func holdBody() {
        guard held == nil, !responded, request.hasBody else { return }
        held = []
        connection?.setBodyPaused(true)
    }

    /// Drops what `holdBody` kept, unless a receiver took it, and reads again (an early answer discards the rest).
    public func releaseHeldBody() {
        guard let bytes = held else { return }
        held = nil
        heldBodyEnded = false
        discarded += Int64(bytes.count)
        connection?.setBodyPaused(false)
    }

    /// Reading resumes first (no read can come before this returns), so a receiver that pauses while it takes
    /// the kept bytes stays paused.
    private func replayHeldBody() {
        guard let bytes = held else { return }
        held = nil
        connection?.setBodyPaused(false)
        if !bytes.isEmpty { bytes.withUnsafeBytes { route($0) } }
        if heldBodyEnded {
            heldBodyEnded = false
            bodyComplete()
        }
    }

    /// Collects the body in memory; `completion` gets nil when it grows past `limit`.
    public func collectBody(limit: Int, _ completion: @escaping ([UInt8]?) -> Void) {
        if let length = request.contentLength, length > Int64(limit) {
            completion(nil)
            return
        }
        collected = []
        collected?.reserveCapacity(Int(min(request.contentLength ?? 0, Int64(limit))))
        collectLimit = limit
        collectCompletion = completion
        connection?.bodyAccepted(self)
        replayHeldBody()
    }

    /// Stops reading the body until `resumeBody()`: back-pressure while the disk is behind.
    public func pauseBody() { connection?.setBodyPaused(true) }
    public func resumeBody() { connection?.setBodyPaused(false) }

    public func respond(_ response: HTTPResponse) {
        guard !responded else { return }
        responded = true
        status = response.status
        connection?.send(response, for: self)
    }

    func deliver(_ bytes: UnsafeRawBufferPointer) {
        bytesReceived += Int64(bytes.count)
        route(bytes)
    }

    private func route(_ bytes: UnsafeRawBufferPointer) {
        if responded {
            discarded += Int64(bytes.count)
        } else if let receiver {
            receiver.receive(bytes, exchange: self)
        } else if collectCompletion != nil {
            if (collected?.count ?? 0) + bytes.count > collectLimit {
                collected = nil
                let completion = collectCompletion
                collectCompletion = nil
                completion?(nil)
            } else {
                collected?.append(contentsOf: bytes)
            }
        } else if held != nil {
            held?.append(contentsOf: bytes)
        } else {
            discarded += Int64(bytes.count)
        }
    }

    func bodyComplete() {
        // The receiver usually holds this exchange (to answer it): letting go of it here breaks that cycle.
        let receiver = self.receiver
        self.receiver = nil
        if responded {
            return
        } else if let receiver {
            receiver.finish(exchange: self)
        } else if let completion = collectCompletion {
            collectCompletion = nil
            let body = collected ?? []
            collected = nil
            completion(body)
        } else if held != nil {
            heldBodyEnded = true
        }
    }

    func connectionLost() {
        receiver?.abort(exchange: self)
        receiver = nil
        collectCompletion = nil
        held = nil
    }
}
