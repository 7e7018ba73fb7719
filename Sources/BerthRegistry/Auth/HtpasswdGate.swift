import BerthHTTP

/// What `auth.htpasswd` configures (registry:2's keys).
public struct HtpasswdOptions: Equatable {
    public var realm: String
    public var path: String

    public init(realm: String, path: String) {
        self.realm = realm
        self.path = path
    }
}

/// The gate of `auth.htpasswd` in front of the registry's routes: a request passes with `Authorization: Basic`
/// credentials of a user of the file, else it is answered 401 with registry:2's challenge. The checking of the
/// credentials is `HtpasswdLogins`'s (cached, bcrypt on the pool, the file followed, failed logins throttled); a
/// request whose check runs holds its body back, and is run again through the registry once admitted; one whose
/// client has gone is dropped. Loop-confined; one per worker process.
final class HtpasswdGate {
    let options: HtpasswdOptions
    private let logins: HtpasswdLogins
    /// Runs an admitted request again (the registry's `handle`).
    var resume: (HTTPExchange) -> Void = { _ in }

    /// The request being run again after its verification, which the gate lets through without a look.
    private var admittedNow: HTTPExchange?
    private let challenge: (name: String, value: String)

    /// Throws when the file cannot be read or parsed, naming the key and the path.
    init(options: HtpasswdOptions, loop: EventLoop, metrics: Metrics) throws {
        self.options = options
        logins = try HtpasswdLogins(path: options.path, key: HtpasswdFile.defaultKey, loop: loop, metrics: metrics)
        challenge = ("WWW-Authenticate", "Basic realm=\(Self.quoted(options.realm))")
    }

    /// True: serve the request now. False: the gate has answered it, or runs it again once its check is done.
    func admits(_ exchange: HTTPExchange) -> Bool {
        if exchange === admittedNow { return true }
        if exchange.request.withHeaderBytes("Authorization", { logins.areCached($0) }) == true { return true }
        guard let authorization = exchange.request.header("Authorization") else {
            exchange.respond(challengeResponse)
            return false
        }
        switch logins.login(authorization, from: exchange.clientAddress, then: { [self] in finish(exchange, $0) }) {
        case .verified:
            return true
        case .pending:
            exchange.holdBody()
            return false
        case let refusal:
            answer(exchange, refusal)
            return false
        }
    }

    /// Reads the file again now (SIGHUP), whether or not it looks changed.
    func reload() {
        logins.reload()
    }

    private func finish(_ exchange: HTTPExchange, _ outcome: HtpasswdLogins.Outcome) {
        guard exchange.isOpen else { return }
        switch outcome {
        case .verified:
            admittedNow = exchange
            resume(exchange)
            admittedNow = nil
            exchange.releaseHeldBody()
        case .refused:
            exchange.releaseHeldBody()
            exchange.respond(challengeResponse)
        default:
            answer(exchange, outcome) // after a change of the file: the new one's 429 or 503
            exchange.releaseHeldBody()
        }
    }

    private var challengeResponse: HTTPResponse {
        RegistryError(.unauthorized).response(headers: [challenge])
    }

    private func answer(_ exchange: HTTPExchange, _ refusal: HtpasswdLogins.Outcome) {
        switch refusal {
        case .unavailable:
            exchange.fail(RegistryError(.authenticationUnavailable, "the htpasswd file cannot be read; the server's log says why"))
        case .throttled(let seconds, let detail):
            exchange.fail(RegistryError(.loginThrottled, "\(detail); retry after \(seconds) s"), headers: [("Retry-After", String(seconds))])
        case .verified, .pending, .notTried, .refused:
            exchange.respond(challengeResponse)
        }
    }

    /// Go's `%q`, as registry:2 writes the realm: backslashes and quotes escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}
