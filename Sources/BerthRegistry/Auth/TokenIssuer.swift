import BerthHTTP
import BerthJWT
import CBerthShims
import Glibc

/// The built-in token issuer (`auth.builtin`), served on the registry's own port before any gate: the token
/// endpoint of docker's token spec (GET, credentials in `Authorization: Basic` or none) and of its oauth.md
/// (POST, `grant_type` `password` or `refresh_token`). A login is checked as `auth.htpasswd` checks one
/// (`HtpasswdLogins`: cached, bcrypt on the pool, failed logins counted and throttled); no credentials at all
/// is an anonymous request, which gets what the anonymous rules grant. The token grants, of the scopes asked,
/// what the rules give the user (`AccessRules.grant`), never more; it is signed with the key of
/// `auth.builtin.key` and verified by the registry's token gate like any other issuer's. A refresh token (asked
/// with `offline_token=true`, as `docker login` does) is a token of the same key for another audience, so the
/// registry never takes it as an access token; it names the user and a fingerprint of the user's hash in the
/// file, so a removed user or a changed password ends it. Loop-confined; one per worker process.
final class TokenIssuer {
    let options: BuiltinIssuerOptions
    let signingKey: TokenSigningKey
    /// Also the web UI's Basic login (`UILoginGate`).
    let logins: HtpasswdLogins
    private let trust: TokenTrust
    private let challenge: (name: String, value: String)

    /// The audience of refresh tokens: not the service, which the registry's gate requires.
    private var refreshAudience: String { "refresh:" + options.service }

    /// Throws when the key or the htpasswd file cannot be read, naming the key of the configuration and the path.
    init(options: BuiltinIssuerOptions, loop: EventLoop, metrics: Metrics) throws {
        self.options = options
        signingKey = try TokenKeyFile.load(options.keyPath)
        logins = try HtpasswdLogins(path: options.htpasswdPath, key: "auth.builtin.htpasswd", loop: loop, metrics: metrics)
        trust = TokenTrust(keys: [signingKey.publicKey])
        challenge = ("WWW-Authenticate", "Basic realm=\(HtpasswdGate.quoted(options.service))")
    }

    /// What the registry's token gate checks the issuer's tokens with.
    /// No leeway: the tokens are checked on the clock that stamped them (this host's), so an expired one ends at
    /// its `exp`, not a minute later (registry:2's leeway is for another host's clock).
    var tokenAuth: TokenAuthOptions {
        var auth = TokenAuthOptions(realm: options.realm.map(TokenRealm.fixed) ?? .sameHost(path: options.path), service: options.service,
                                    issuer: options.issuer, trust: trust)
        auth.leeway = 0
        return auth
    }

    /// Reads the htpasswd file again now (SIGHUP).
    func reload() {
        logins.reload()
    }

    func handle(_ exchange: HTTPExchange) {
        exchange.label = "token"
        switch exchange.request.method {
        case .get:
            do { serve(exchange, try TokenRequest(query: exchange.request.query)) } catch { refuse(exchange, error) }
        case .post:
            exchange.collectBody(limit: TokenRequest.maxFormBytes) { [self] body in
                guard let body else {
                    return exchange.fail(RegistryError(.requestTooLarge, "a token request's form is at most \(TokenRequest.maxFormBytes) bytes"))
                }
                do { serve(exchange, try TokenRequest(form: body)) } catch { refuse(exchange, error) }
            }
        default:
            exchange.fail(RegistryError(.unsupported, "the token endpoint takes GET (docker's token spec) and POST (OAuth2)"),
                          headers: [("Allow", "GET, POST")])
        }
    }

    private func refuse(_ exchange: HTTPExchange, _ error: Error) {
        exchange.fail(RegistryError(.requestInvalid, "\(error)"))
    }

    private func serve(_ exchange: HTTPExchange, _ request: TokenRequest) {
        if let service = request.service, service != options.service {
            return exchange.fail(RegistryError(.requestInvalid, "this issuer's service is \(options.service), not \(service)"))
        }
        switch request.grant {
        case .header:
            guard let authorization = exchange.request.header("Authorization") else { return issue(exchange, request, account: nil) }
            login(exchange, request, authorization)
        case .password(let user, let password):
            login(exchange, request, "Basic " + Base64URL.encodeStandard(Array("\(user):\(password)".utf8)))
        case .refreshToken(let token):
            refresh(exchange, request, token)
        }
    }

    private func login(_ exchange: HTTPExchange, _ request: TokenRequest, _ authorization: String) {
        let outcome = logins.login(authorization, from: exchange.clientAddress) { [self] outcome in
            if exchange.isOpen { answer(exchange, request, outcome) }
        }
        answer(exchange, request, outcome)
    }

    private func answer(_ exchange: HTTPExchange, _ request: TokenRequest, _ outcome: HtpasswdLogins.Outcome) {
        switch outcome {
        case .verified(let user):
            // docker_auth's rule: a client acts as the user it logged in as.
            if let account = request.account, account != user {
                return exchange.fail(RegistryError(.requestInvalid, "account \(account) is not the user who logged in"))
            }
            issue(exchange, request, account: user)
        case .pending:
            break
        case .notTried, .refused:
            exchange.fail(RegistryError(.unauthorized, "the user name or password is not right"), headers: [challenge])
        case .unavailable:
            exchange.fail(RegistryError(.authenticationUnavailable, "the htpasswd file cannot be read; the server's log says why"))
        case .throttled(let seconds, let detail):
            exchange.fail(RegistryError(.loginThrottled, "\(detail); retry after \(seconds) s"), headers: [("Retry-After", String(seconds))])
        }
    }

    /// A refresh token stands for the login it came from, while the user's entry in the file is the same.
    private func refresh(_ exchange: HTTPExchange, _ request: TokenRequest, _ token: String) {
        let now = Int64(time(nil))
        guard let claims = try? JSONWebToken.verify(token, trust: trust, issuer: options.issuer, service: refreshAudience, now: now, leeway: 0),
              let hash = logins.hash(of: claims.subject), claims.id.hasSuffix("." + Self.fingerprint(hash)) else {
            Log.info("token: a refresh token from \(exchange.clientAddress.map { "\($0)" } ?? "a closed connection") refused")
            return exchange.fail(RegistryError(.unauthorized, "the refresh token is not valid any more; log in again"), headers: [challenge])
        }
        issue(exchange, request, account: claims.subject)
    }

    private func issue(_ exchange: HTTPExchange, _ request: TokenRequest, account: String?) {
        let now = Int64(time(nil))
        let access = options.rules.grant(request.scopes, account: account)
        let claims = TokenClaims(issuer: options.issuer, subject: account ?? "", audience: [options.service],
                                 expiresAt: now + options.expirationSeconds, notBefore: now, issuedAt: now, id: Self.randomID(),
                                 access: access)
        do {
            let token = try JSONWebToken.sign(claims, with: signingKey)
            var refreshToken: String?
            if request.offline, let account, options.refreshExpirationSeconds > 0, let hash = logins.hash(of: account) {
                let refresh = TokenClaims(issuer: options.issuer, subject: account, audience: [refreshAudience],
                                          expiresAt: now + options.refreshExpirationSeconds, notBefore: now, issuedAt: now,
                                          id: Self.randomID() + "." + Self.fingerprint(hash), access: [])
                refreshToken = try JSONWebToken.sign(refresh, with: signingKey)
            }
            Log.debug("token: \(account.map(JSONString.quoted) ?? "anonymous") asked \(request.scopes.map(\.scope)), granted \(access.map(\.scope))")
            exchange.respond(Self.response(token: token, refreshToken: refreshToken, expiresIn: options.expirationSeconds,
                                           issuedAt: now, scope: request.isOAuth ? access.map(\.scope).joined(separator: " ") : nil))
        } catch {
            exchange.fail(RegistryError.concealing(error, "signing a token"))
        }
    }

    /// Both names of the token (`token` for docker's spec, `access_token` for OAuth2 clients), `expires_in`,
    /// `issued_at` as RFC 3339; never cached (RFC 6749 §5.1).
    static func response(token: String, refreshToken: String?, expiresIn: Int64, issuedAt: Int64, scope: String?) -> HTTPResponse {
        var body = "{\"token\":\(JSONString.quoted(token)),\"access_token\":\(JSONString.quoted(token))"
        body += ",\"expires_in\":\(expiresIn),\"issued_at\":\(JSONString.quoted(Mirror.rfc3339(Int(issuedAt))))"
        if let refreshToken { body += ",\"refresh_token\":\(JSONString.quoted(refreshToken))" }
        if let scope { body += ",\"scope\":\(JSONString.quoted(scope))" }
        body += "}\n"
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store"),
                                                   ("Pragma", "no-cache")], text: body)
    }

    /// The first 8 bytes of the SHA-256 of a user's hash, in hex: enough to tell a changed entry, nothing to crack.
    static func fingerprint(_ hash: String) -> String {
        hex(CredentialCache.Key(authorization: hash).words.0)
    }

    private static func randomID() -> String {
        var bytes = (UInt64(0), UInt64(0))
        _ = withUnsafeMutableBytes(of: &bytes) { berth_random_bytes($0.baseAddress, $0.count) }
        return hex(bytes.0) + hex(bytes.1)
    }

    private static func hex(_ word: UInt64) -> String {
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
