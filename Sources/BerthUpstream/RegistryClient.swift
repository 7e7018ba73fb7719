import BerthHTTP
import Foundation
import Glibc

/// The registry protocol's client for one remote registry, over `UpstreamClient` (the HTTP layer): a base
/// URL, optional credentials, and the registry authentication flow (Bearer tokens, Basic) and redirects
/// handled, so callers (the mirror, a Kraken backend) see only final responses. Loop-confined. Foundation
/// only for base64 and token JSON, never per body byte.
public final class RegistryClient {
    public let client: UpstreamClient
    public let baseURL: UpstreamURL
    /// The registry host it is configured as (`docker.io`, `127.0.0.1:5102`): how logs, error bodies and
    /// `/readyz` name it, never with credentials.
    public let name: String
    /// What the last exchanges with it showed; every fetch's outcome updates it.
    public private(set) var health = UpstreamHealth()
    /// Log each change of `health` (one process of several does, the mirror's first worker).
    public var logsHealthChanges = false
    private let basicAuthorization: String?
    private var tokens = BearerTokenCache()
    /// Token requests in flight by cache key: concurrent pulls of one repository wait for one token.
    private var tokenWaiters: [String: [(Result<String, UpstreamError>) -> Void]] = [:]
    /// The last Bearer challenge's realm and service: with them, a scope read from the path finds a
    /// cached token before the upstream asks for it, saving a 401 round trip per request.
    private var bearerRealm: (realm: String, service: String?)?
    /// The upstream answered with a Basic challenge once: send the credentials from the start.
    private var basicChallenged = false
    /// Milliseconds; the loop's clock, replaced in tests to expire tokens.
    var now: () -> UInt64
    /// Unix seconds, for when it last failed.
    var wallClock: () -> Int = { Int(time(nil)) }

    public static let maxRedirects = 5

    /// Credentials given apart win over those in the URL's userinfo (`https://user:password@host`); the
    /// base URL is kept without them, so that nothing that shows it shows them.
    public init(client: UpstreamClient, baseURL: UpstreamURL, name: String? = nil, username: String? = nil, password: String? = nil) {
        self.client = client
        var address = baseURL
        address.username = nil
        address.password = nil
        self.baseURL = address
        self.name = name ?? address.hostHeader
        let (username, password): (String?, String?) = username != nil ? (username, password) : (baseURL.username, baseURL.password ?? "")
        if let username, let password {
            basicAuthorization = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        } else {
            basicAuthorization = nil
        }
        let loop = client.loop
        now = { loop.now }
    }

    /// Sends `method path` (path from `/v2/...`, with its query) to the upstream and gives `handler` the
    /// final response: after any 401 answered with credentials or a token, and after redirects (up to 5;
    /// the upstream's Authorization is not sent to another origin, such as a blob storage host).
    @discardableResult
    public func fetch(_ method: String, _ path: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
                      handler: UpstreamResponseHandler) -> RegistryFetch {
        let fetch = RegistryFetch(upstream: self, method: method, url: url(for: path), headers: headers, body: body, handler: handler)
        fetch.start()
        return fetch
    }

    /// Records how an exchange with the upstream ended, and logs when that changes whether it answers. A 401
    /// or 403 to `/v2/` itself with credentials configured says they are refused (a repository's 401 says only
    /// that one is closed to us; without credentials some registries refuse `/v2/` to an anonymous token and
    /// still serve public images).
    func record(status: Int, target: String) {
        if status >= 500 { return record(failure: "answered \(status)", cause: "answered \(status)") }
        if status == 401 || status == 403, basicAuthorization != nil, target == url(for: "/v2/").target {
            return record(failure: "refused our credentials (\(status))", cause: "GET /v2/ answered \(status) to the configured credentials")
        }
        if health.answered(), logsHealthChanges { Log.info("upstream \(name) (\(baseURL)): answering") }
    }

    func record(_ error: UpstreamError) {
        guard let reason = UpstreamHealth.reason(for: error) else { return }
        record(failure: reason, cause: error.description)
    }

    private func record(failure reason: String, cause: String) {
        if health.failed(reason, at: wallClock()), logsHealthChanges { Log.warn("upstream \(name) (\(baseURL)): failing: \(cause)") }
    }

    func url(for path: String) -> UpstreamURL {
        let prefix = baseURL.target.hasSuffix("/") ? String(baseURL.target.dropLast()) : baseURL.target
        return baseURL.with(target: prefix + (path.hasPrefix("/") ? path : "/" + path))
    }

    func isUpstreamOrigin(_ url: UpstreamURL) -> Bool {
        url.origin == baseURL.origin
    }

    // MARK: Credentials

    /// What to send before any challenge: Basic once the upstream asked for it, or a cached token for
    /// the scope this path needs.
    func preemptiveAuthorization(method: String, target: String) -> (header: String, token: String?)? {
        if basicChallenged, let basicAuthorization { return (basicAuthorization, nil) }
        guard let bearerRealm, let scope = Self.scope(method: method, target: target) else { return nil }
        let key = BearerTokenCache.key(realm: bearerRealm.realm, service: bearerRealm.service, scope: scope)
        guard let token = tokens.token(for: key, now: now()) else { return nil }
        return ("Bearer " + token, token)
    }

    func basicCredentials(afterChallenge: Bool) -> String? {
        if afterChallenge, basicAuthorization != nil { basicChallenged = true }
        return basicAuthorization
    }

    /// A token for `challenge`: cached unless it is `refused` (the one the upstream just turned down),
    /// else asked of the realm, with Basic credentials when configured and anonymously otherwise. Public for
    /// `berth bench` (BerthBench), which answers its own connections' challenges with it.
    public func token(for challenge: (realm: String, service: String?, scope: String?), refused: String?,
               completion: @escaping (Result<String, UpstreamError>) -> Void) {
        bearerRealm = (challenge.realm, challenge.service)
        let key = BearerTokenCache.key(realm: challenge.realm, service: challenge.service, scope: challenge.scope)
        if let refused { tokens.forget(refused, for: key) }
        if let token = tokens.token(for: key, now: now()) {
            completion(.success(token))
            return
        }
        if tokenWaiters[key] != nil {
            tokenWaiters[key]!.append(completion)
            return
        }
        tokenWaiters[key] = [completion]
        guard let realm = UpstreamURL(challenge.realm) else {
            tokenArrived(.failure(.authenticationFailed("token realm \(challenge.realm) is not an http(s) URL")), for: key)
            return
        }
        var query: [String] = []
        if let service = challenge.service { query.append("service=" + percentEncoded(service)) }
        // Several scopes are separated by spaces in one challenge; the token endpoint takes one per parameter.
        for scope in (challenge.scope ?? "").split(separator: " ") { query.append("scope=" + percentEncoded(String(scope))) }
        let target = realm.target + (query.isEmpty ? "" : (realm.target.contains("?") ? "&" : "?") + query.joined(separator: "&"))
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let basicAuthorization, Self.mayReceiveCredentials(realm, upstream: baseURL) {
            headers.append(("Authorization", basicAuthorization))
        }
        let request = UpstreamRequest(method: "GET", url: realm.with(target: target), headers: headers)
        client.send(request, to: UpstreamBodyCollector(limit: 1 << 20) { [self] result in
            switch result {
            case .success(let response) where response.status == 200:
                if let answer = BearerTokenResponse(json: response.body) {
                    tokens.store(answer.token, for: key, expiresInSeconds: answer.expiresInSeconds, now: now())
                    tokenArrived(.success(answer.token), for: key)
                } else {
                    tokenArrived(.failure(.authenticationFailed("token endpoint \(challenge.realm) answered without a token")), for: key)
                }
            case .success(let response):
                tokenArrived(.failure(.authenticationFailed("token endpoint \(challenge.realm) answered \(response.status)")), for: key)
            case .failure(let error):
                tokenArrived(.failure(.authenticationFailed("token endpoint \(challenge.realm): \(error)")), for: key)
            }
        })
    }

    /// The upstream names its token realm, and a hostile or mistaken one could name any host: the Basic
    /// credentials go only over TLS or to the upstream's own host, never in clear text to another (as Docker's
    /// clients do). Elsewhere the token is asked for anonymously.
    static func mayReceiveCredentials(_ realm: UpstreamURL, upstream: UpstreamURL) -> Bool {
        realm.isTLS || asciiEqualIgnoringCase(realm.host, upstream.host)
    }

    private func tokenArrived(_ result: Result<String, UpstreamError>, for key: String) {
        let waiters = tokenWaiters.removeValue(forKey: key) ?? []
        for waiter in waiters { waiter(result) }
    }

    /// The scope a registry asks for on this path (distribution's `repository:<name>:<actions>`), so a
    /// cached token can be sent first; nil for paths outside a repository (`/v2/`, `/v2/_catalog`).
    static func scope(method: String, target: String) -> String? {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", "v2", name components..., kind, reference
        guard parts.count >= 5, parts[0].isEmpty, parts[1] == "v2" else { return nil }
        var end = parts.count - 2
        if parts[end] == "uploads", parts[end - 1] == "blobs" { end -= 1 }
        guard ["manifests", "blobs", "tags", "referrers"].contains(parts[end]), end > 2 else { return nil }
        let name = parts[2..<end].joined(separator: "/")
        let actions = method == "GET" || method == "HEAD" ? "pull" : "pull,push"
        return "repository:\(name):\(actions)"
    }
}

/// RFC 3986 §2.3: everything but unreserved characters is percent-encoded in a query value.
func percentEncoded(_ text: String) -> String {
    var out: [UInt8] = []
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.append(byte)
        default:
            let hex = Array("0123456789ABCDEF".utf8)
            out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
        }
    }
    return String(decoding: out, as: UTF8.self)
}
