/// Collects a small response whole in memory (token answers, manifests, error bodies). Loop-confined.
public final class UpstreamBodyCollector: UpstreamResponseHandler {
    public struct Response {
        public var status: Int
        public var headers: UpstreamHeaders
        public var body: [UInt8]
    }

    private let limit: Int
    private var completion: ((Result<Response, UpstreamError>) -> Void)?
    private var response: Response?
    private var exchange: UpstreamExchange?
    private var overLimit = false

    /// `completion` runs once; a body over `limit` bytes cancels the exchange and fails with `.responseTooLarge`.
    public init(limit: Int = 4 << 20, completion: @escaping (Result<Response, UpstreamError>) -> Void) {
        self.limit = limit
        self.completion = completion
    }

    public func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        response = Response(status: status, headers: headers, body: [])
        self.exchange = exchange
        if let length = headers["Content-Length"].flatMap({ Int($0) }), length > limit {
            overLimit = true
            exchange.cancel()
        }
    }

    public func body(_ bytes: UnsafeRawBufferPointer) {
        guard !overLimit else { return }
        if (response?.body.count ?? 0) + bytes.count > limit {
            overLimit = true
            exchange?.cancel()
            return
        }
        response?.body.append(contentsOf: bytes)
    }

    public func end(error: UpstreamError?) {
        exchange = nil
        let completion = self.completion
        self.completion = nil
        if overLimit {
            completion?(.failure(.responseTooLarge(limit: limit)))
        } else if let error {
            completion?(.failure(error))
        } else if let response {
            completion?(.success(response))
        } else {
            completion?(.failure(.malformedResponse("no response head")))
        }
    }
}
