import CLibUV

/// One request and its response. Loop-confined; outlives its connection harmlessly (answers go nowhere).
public final class HTTPExchange {
    public let request: HTTPRequestHead
    public let loop: EventLoop
    weak var connection: HTTPConnection?

    var receiver: HTTPBodyReceiver?
    var collected: [UInt8]?
    var collectLimit = 0
    var collectCompletion: (([UInt8]?) -> Void)?
    var continueSent = false
    var discarded: Int64 = 0

    var responded = false
    public internal(set) var status = 0
    public internal(set) var bytesSent: Int64 = 0
    /// File body bytes that went out over TLS by read + SSL_write (no kernel TLS here to sendfile them).
    public internal(set) var tlsFallbackBodyBytes: Int64 = 0
    public internal(set) var bytesReceived: Int64 = 0
    let startedAt = uv_hrtime()
    /// What the application calls this kind of request, for its metrics (a route name).
    public var label = "none"
    /// One field the application adds to this request's JSON access line (the mirror's `cache` result):
    /// static strings, so that noting it allocates nothing.
    public var logNote: (key: StaticString, value: StaticString)?

    /// Seconds since the request head was complete.
    public var elapsedSeconds: Double { Double(uv_hrtime() - startedAt) / 1e9 }

    init(request: HTTPRequestHead, loop: EventLoop, connection: HTTPConnection) {
        self.request = request
        self.loop = loop
        self.connection = connection
    }

    /// True while the client can still be answered.
    public var isOpen: Bool { connection != nil && !responded }

    /// Streams the body to `receiver` as it arrives (sends `100 Continue` when the client waits for it).
    public func receiveBody(into receiver: HTTPBodyReceiver) {
        self.receiver = receiver
        connection?.bodyAccepted(self)
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
        }
    }

    func connectionLost() {
        receiver?.abort(exchange: self)
        receiver = nil
        collectCompletion = nil
    }
}
