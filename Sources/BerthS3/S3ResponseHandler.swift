import BerthUpstream

/// One S3 answer: a 2xx body goes to `sink` as it arrives when there is one (an object's bytes), else it is
/// collected up to `limit` (an XML answer); an error answer's body is always collected, small. Loop-confined.
final class S3ResponseHandler: UpstreamResponseHandler {
    struct Answer {
        var status: Int
        var headers: UpstreamHeaders
        /// Empty when the body went to the sink.
        var body: [UInt8]
    }

    private let sink: ((UnsafeRawBufferPointer) -> Void)?
    private let limit: Int
    private var completion: ((Result<Answer, S3Error>) -> Void)?
    private var answer: Answer?
    private var streaming = false
    private var overLimit = false
    private var exchange: UpstreamExchange?

    init(limit: Int, sink: ((UnsafeRawBufferPointer) -> Void)?, completion: @escaping (Result<Answer, S3Error>) -> Void) {
        self.limit = limit
        self.sink = sink
        self.completion = completion
    }

    func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        answer = Answer(status: status, headers: headers, body: [])
        self.exchange = exchange
        streaming = sink != nil && (200...299).contains(status)
    }

    func body(_ bytes: UnsafeRawBufferPointer) {
        if streaming {
            sink?(bytes)
            return
        }
        guard !overLimit else { return }
        let cap = (200...299).contains(answer?.status ?? 0) ? limit : 1 << 20
        if (answer?.body.count ?? 0) + bytes.count > cap {
            overLimit = true
            exchange?.cancel()
            return
        }
        answer?.body.append(contentsOf: bytes)
    }

    func end(error: UpstreamError?) {
        exchange = nil
        guard let completion else { return }
        self.completion = nil
        if overLimit {
            completion(.failure(.malformedAnswer("answer larger than \(limit) bytes")))
        } else if let error {
            completion(.failure(.transport(error)))
        } else if let answer {
            completion(.success(answer))
        } else {
            completion(.failure(.transport(.malformedResponse("no response head"))))
        }
    }
}
