import BerthHTTP

/// One `RegistryClient.fetch`: the requests it takes to reach the final response (a challenge answered
/// once, up to five redirects). Loop-confined; kept alive by whatever of it is in flight.
public final class RegistryFetch {
    enum Next {
        case answerBasic
        case answerBearer(realm: String, service: String?, scope: String?)
        case redirect(UpstreamURL, method: String, keepsBody: Bool)
    }

    enum State {
        case awaitingHead
        /// An intermediate answer (401, 3xx): its body is read and dropped so the connection stays usable.
        case discarding(then: Next)
        case awaitingToken
        case forwarding
        case ended
    }

    /// A 401 or redirect body larger than this is not worth reading to keep the connection.
    private static let discardLimit = 64 * 1024

    private let upstream: RegistryClient
    private var method: String
    private var url: UpstreamURL
    private let headers: [(name: String, value: String)]
    private var body: [UInt8]?
    private var handler: UpstreamResponseHandler?
    private(set) var state = State.awaitingHead
    private var current: UpstreamExchange?
    private var redirects = 0
    private var discarded = 0
    private var answeredChallenge = false
    /// Settled on after a challenge; sent again if a redirect comes back to the upstream.
    private var authorization: String?
    /// What the last request to the upstream carried, to tell a refused cached token from a first ask.
    private var sentAuthorization: String?
    private var sentToken: String?

    init(upstream: RegistryClient, method: String, url: UpstreamURL, headers: [(name: String, value: String)],
         body: [UInt8]?, handler: UpstreamResponseHandler) {
        self.upstream = upstream
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.handler = handler
    }

    /// Stops whatever is in flight; the handler's `end(error: .cancelled)` runs before this returns.
    public func cancel() {
        if case .ended = state { return }
        let exchange = current
        finish(.cancelled)
        exchange?.cancel()
    }

    func start() {
        send()
    }

    private func send() {
        state = .awaitingHead
        var fields = headers.filter { !asciiEqualIgnoringCase($0.name, "Authorization") }
        sentAuthorization = nil
        sentToken = nil
        // The upstream's credentials go to the upstream only: a redirect elsewhere carries signed URLs instead.
        if upstream.isUpstreamOrigin(url) {
            if let authorization {
                sentAuthorization = authorization
            } else if let preemptive = upstream.preemptiveAuthorization(method: method, target: url.target) {
                sentAuthorization = preemptive.header
                sentToken = preemptive.token
            }
            if let sentAuthorization { fields.append(("Authorization", sentAuthorization)) }
        }
        let exchange = upstream.client.send(UpstreamRequest(method: method, url: url, headers: fields, body: body), to: Attempt(self))
        if !exchange.hasEnded { current = exchange }
    }

    // MARK: The current attempt's events

    fileprivate func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        guard case .awaitingHead = state else { return }
        current = exchange
        if let next = next(status: status, headers: headers) {
            state = .discarding(then: next)
            discarded = 0
            return
        }
        state = .forwarding
        upstream.record(status: status, target: url.target)
        handler?.head(status: status, headers: headers, exchange: exchange)
    }

    fileprivate func body(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .forwarding:
            handler?.body(bytes)
        case .discarding:
            discarded += bytes.count
            if discarded > Self.discardLimit { current?.cancel() }
        default:
            break
        }
    }

    /// Only a forwarded body may be read into the handler's memory; a discarded one goes to the loop's.
    fileprivate var bodyDestination: UnsafeMutableRawBufferPointer? {
        guard case .forwarding = state else { return nil }
        return handler?.bodyDestination()
    }

    fileprivate func end(error: UpstreamError?) {
        current = nil
        switch state {
        case .awaitingHead, .forwarding:
            finish(error)
        case .discarding(let next):
            proceed(next)
        case .awaitingToken, .ended:
            break
        }
    }

    // MARK: Steps

    private func next(status: Int, headers: UpstreamHeaders) -> Next? {
        if status == 401, upstream.isUpstreamOrigin(url), !answeredChallenge,
           let challenge = AuthChallenge.preferred(in: headers.values("WWW-Authenticate")) {
            switch challenge {
            case .bearer(let realm, let service, let scope):
                return .answerBearer(realm: realm, service: service, scope: scope)
            case .basic:
                if let basic = upstream.basicCredentials(afterChallenge: false), sentAuthorization != basic { return .answerBasic }
            }
        }
        if [301, 302, 303, 307, 308].contains(status), let location = headers["Location"],
           let target = Self.resolve(location, against: url) {
            // RFC 9110 §15.4.4: 303 means "GET the other resource"; the others repeat the request as it was.
            let switchesToGet = status == 303 && method != "HEAD"
            return .redirect(target, method: switchesToGet ? "GET" : method, keepsBody: !switchesToGet)
        }
        return nil
    }

    private func proceed(_ next: Next) {
        switch next {
        case .answerBasic:
            answeredChallenge = true
            authorization = upstream.basicCredentials(afterChallenge: true)
            send()
        case .answerBearer(let realm, let service, let scope):
            answeredChallenge = true
            state = .awaitingToken
            upstream.token(for: (realm, service, scope), refused: sentToken) { [self] result in
                guard case .awaitingToken = state else { return }
                switch result {
                case .success(let token):
                    authorization = "Bearer " + token
                    send()
                case .failure(let error):
                    finish(error)
                }
            }
        case .redirect(let target, let method, let keepsBody):
            guard redirects < RegistryClient.maxRedirects else {
                finish(.tooManyRedirects(RegistryClient.maxRedirects))
                return
            }
            redirects += 1
            url = target
            self.method = method
            if !keepsBody { body = nil }
            send()
        }
    }

    private func finish(_ error: UpstreamError?) {
        if let error { upstream.record(error) }
        state = .ended
        current = nil
        let handler = self.handler
        self.handler = nil
        handler?.end(error: error)
    }

    /// A `Location` value against the URL it answered: absolute, scheme-relative, absolute-path or relative.
    static func resolve(_ location: String, against base: UpstreamURL) -> UpstreamURL? {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return UpstreamURL(location) }
        if location.hasPrefix("//") { return UpstreamURL((base.isTLS ? "https:" : "http:") + location) }
        if location.hasPrefix("/") { return base.with(target: location) }
        let path = base.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let directory = path.lastIndex(of: "/").map { path[...$0] } ?? "/"
        return base.with(target: directory + location)
    }
}

/// Forwards one request's events to its fetch; the exchange holds it, and it holds the fetch.
private final class Attempt: UpstreamResponseHandler {
    private let fetch: RegistryFetch

    init(_ fetch: RegistryFetch) {
        self.fetch = fetch
    }

    func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        fetch.head(status: status, headers: headers, exchange: exchange)
    }

    func body(_ bytes: UnsafeRawBufferPointer) {
        fetch.body(bytes)
    }

    func bodyDestination() -> UnsafeMutableRawBufferPointer? {
        fetch.bodyDestination
    }

    func end(error: UpstreamError?) {
        fetch.end(error: error)
    }
}
