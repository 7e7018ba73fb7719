import BerthHTTP
import BerthJWT
#if canImport(Glibc)
import Glibc
#endif

/// The gate of `auth.token` in front of the registry's routes (registry:2's token access controller): a request
/// passes with `Authorization: Bearer <token>` when the token verifies (`JSONWebToken.verify`: the issuer's
/// key, iss, aud, exp/nbf) and its `access` claim grants every access the route needs. Else:
/// - no token, or one that does not verify: 401 `UNAUTHORIZED` with registry:2's challenge, `Bearer realm=,
///   service=, scope=` (plus `error="invalid_token"` for a token that was refused), so the client fetches one;
/// - a valid token whose `access` does not name the resource at all: 401 with `error="insufficient_scope"` and
///   the scope, as registry:2 answers, so the client asks the issuer again for that scope (a token fetched for a
///   pull, then used for a push);
/// - a valid token that names the resource but not the action: 403 `DENIED` (issue 15; registry:2 answers 401
///   here too), with the same `insufficient_scope` challenge (RFC 6750 section 3.1). docker, podman and skopeo
///   ask for `pull,push` before a push, so their token holds what the issuer grants and they report "denied";
///   oras-py, holding a token of an earlier scope, asks again from the challenge and gets what it may.
/// An ES256 check costs tens of microseconds (README), so it runs on the loop; `TokenCache` makes it once per
/// token. Loop-confined; one per worker process.
final class TokenGate: AccessGate {
    let options: TokenAuthOptions
    private let metrics: Metrics
    private var cache = TokenCache()

    init(options: TokenAuthOptions, metrics: Metrics) {
        self.options = options
        self.metrics = metrics
    }

    func admits(_ exchange: HTTPExchange, needing access: () -> [AccessRequirement]) -> Bool {
        let needed = access()
        guard let authorization = exchange.request.header("Authorization"), let token = Self.bearerToken(authorization) else {
            exchange.respond(challenge(exchange, needed, error: nil, detail: "a Bearer token is needed"))
            return false
        }
        let now = Int64(time(nil))
        let key = CredentialCache.Key(authorization: token)
        let claims: TokenClaims
        if let cached = cache.claims(for: key, now: now) {
            claims = cached
        } else {
            do {
                claims = try JSONWebToken.verify(token, trust: options.trust, issuer: options.issuer, service: options.service,
                                                 now: now, leeway: options.leeway)
            } catch {
                metrics.authTokensRejected += 1
                let reason = (error as? TokenRejection)?.description ?? "the token cannot be verified"
                Log.info("token from \(exchange.clientAddress?.description ?? "a closed connection") refused: \(reason)")
                exchange.respond(challenge(exchange, needed, error: "invalid_token", detail: reason))
                return false
            }
            metrics.authTokensAccepted += 1
            let expires = claims.expiresAt.addingReportingOverflow(options.leeway)
            cache.insert(key, claims: claims, expires: expires.overflow ? .max : expires.partialValue, now: now)
        }
        for requirement in needed where !claims.access.contains(where: { $0.grants(type: requirement.type, name: requirement.name, action: requirement.action) }) {
            metrics.authAccessDenied += 1
            let scope = "\(requirement.type):\(requirement.name):\(requirement.action)"
            let denied = claims.access.contains(where: { $0.type == requirement.type && $0.name == requirement.name })
            exchange.respond(challenge(exchange, needed, error: "insufficient_scope", detail: "the token does not grant \(scope)",
                                       code: denied ? .denied : .unauthorized))
            return false
        }
        return true
    }

    /// Nothing is read from disk after the start: the bundle is the configuration's (as in registry:2).
    func reload() {}

    /// registry:2 splits the value at spaces and wants exactly "Bearer" (any case) and the token. On the UTF-8
    /// buffer: Character-level splitting of a kilobyte token cost 80 us a request, four times the rest of a manifest
    /// GET, and a byte-wise walk of a Substring's UTF8View still 5 us.
    static func bearerToken(_ authorization: String) -> String? {
        var authorization = authorization
        return authorization.withUTF8 { bytes -> String? in
            let space = UInt8(ascii: " ")
            guard bytes.count > 7, bytes[6] == space, zip(bytes[..<6], "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
            let token = UnsafeBufferPointer(rebasing: bytes[7...])
            guard let start = token.baseAddress, memchr(start, Int32(space), token.count) == nil else { return nil }
            return String(decoding: token, as: UTF8.self)
        }
    }

    private func challenge(_ exchange: HTTPExchange, _ needed: [AccessRequirement], error: String?, detail: String,
                           code: RegistryError.Code = .unauthorized) -> HTTPResponse {
        var value = "Bearer realm=\(HtpasswdGate.quoted(realm(for: exchange))),service=\(HtpasswdGate.quoted(options.service))"
        let scope = AccessRequirement.scope(needed)
        if !scope.isEmpty { value += ",scope=\(HtpasswdGate.quoted(scope))" }
        if let error { value += ",error=\(HtpasswdGate.quoted(error))" }
        return RegistryError(code, detail).response(headers: [("WWW-Authenticate", value)])
    }

    private func realm(for exchange: HTTPExchange) -> String {
        switch options.realm {
        case .fixed(let realm): return realm
        case .sameHost(let path):
            let host = exchange.request.header("Host") ?? "localhost"
            return (exchange.isTLS ? "https://" : "http://") + host + path
        }
    }
}
