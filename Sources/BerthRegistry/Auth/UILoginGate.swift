import BerthHTTP

/// auth.builtin's login for the web UI. A browser cannot follow the registry's Bearer flow, so with the built-in
/// issuer the pages take HTTP Basic credentials of its htpasswd users, checked by the issuer's own
/// `HtpasswdLogins` (cached, bcrypt on the pool, failed logins throttled), and the issuer's access rules decide
/// what the user sees and may delete (`UIViewer`). No credentials: the anonymous rules, or a 401 with a Basic
/// challenge, so the browser shows its login box. A request with a Bearer token passes the token gate instead,
/// as before. Loop-confined; one per worker process.
final class UILoginGate {
    private let logins: HtpasswdLogins
    private let rules: AccessRules
    private let challenge: (name: String, value: String)

    init(issuer: TokenIssuer) {
        logins = issuer.logins
        rules = issuer.options.rules
        challenge = ("WWW-Authenticate", "Basic realm=\(HtpasswdGate.quoted(issuer.options.service))")
    }

    /// Calls `serve` with the viewer now, or once bcrypt is done (the request's body held meanwhile), or answers
    /// the request itself.
    func admit(_ exchange: HTTPExchange, serve: @escaping (HTTPExchange, UIViewer) -> Void) {
        guard let authorization = exchange.request.header("Authorization") else {
            let anonymous = UIViewer(user: nil, rules: rules)
            return anonymous.mayList ? serve(exchange, anonymous) : exchange.respond(challengeResponse)
        }
        let outcome = logins.login(authorization, from: exchange.clientAddress) { [self] outcome in
            guard exchange.isOpen else { return }
            finish(exchange, outcome, serve)
            exchange.releaseHeldBody()
        }
        if case .pending = outcome { return exchange.holdBody() }
        finish(exchange, outcome, serve)
    }

    private func finish(_ exchange: HTTPExchange, _ outcome: HtpasswdLogins.Outcome, _ serve: (HTTPExchange, UIViewer) -> Void) {
        switch outcome {
        case .verified(let user):
            serve(exchange, UIViewer(user: user, rules: rules))
        case .unavailable:
            exchange.fail(RegistryError(.authenticationUnavailable, "the htpasswd file cannot be read; the server's log says why"))
        case .throttled(let seconds, let detail):
            exchange.fail(RegistryError(.loginThrottled, "\(detail); retry after \(seconds) s"), headers: [("Retry-After", String(seconds))])
        case .pending, .notTried, .refused:
            exchange.respond(challengeResponse)
        }
    }

    private var challengeResponse: HTTPResponse {
        RegistryError(.unauthorized, "log in with a user of the registry").response(headers: [challenge])
    }
}
