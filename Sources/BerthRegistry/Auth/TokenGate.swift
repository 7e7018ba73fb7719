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
    /// Unchecked: touched only here, by one call at a time (a dynamic check costs more than the lookup's hash).
    @exclusivity(unchecked) private var cache = TokenCache()

    init(options: TokenAuthOptions, metrics: Metrics) {
        self.options = options
        self.metrics = metrics
    }

    func admits(_ exchange: HTTPExchange, pulling: String?, needing access: () -> [AccessRequirement]) -> Bool {
        let now = Int64(time(nil))
        // The token is looked up where it lies in the head; a String of it is made only for a token not seen yet.
        let presented = exchange.request.withHeaderBytes("Authorization") { value -> Presented in
            guard let token = Self.bearerToken(value) else { return .absent }
            if let entry = cache.entry(for: token, now: now) { return .cached(entry) }
            return .new(String(decoding: token, as: UTF8.self))
        } ?? .absent
        let granted: [TokenAccess]
        var admitting: TokenCache.Entry?
        switch presented {
        case .absent:
            exchange.respond(challenge(exchange, access(), error: nil, detail: "a Bearer token is needed"))
            return false
        case .cached(let entry):
            // The pull this token was found to grant last time (the claims do not change): no records built.
            if let pulling, entry.admittedPull == pulling { return true }
            granted = entry.claims.access
            admitting = entry
        case .new(let token):
            let claims: TokenClaims
            do {
                claims = try JSONWebToken.verify(token, trust: options.trust, issuer: options.issuer, service: options.service,
                                                 now: now, leeway: options.leeway)
            } catch {
                metrics.authTokensRejected += 1
                let reason = (error as? TokenRejection)?.description ?? "the token cannot be verified"
                Log.info("token from \(exchange.clientAddress?.description ?? "a closed connection") refused: \(reason)")
                exchange.respond(challenge(exchange, access(), error: "invalid_token", detail: reason))
                return false
            }
            metrics.authTokensAccepted += 1
            let expires = claims.expiresAt.addingReportingOverflow(options.leeway)
            var bytes = token
            bytes.withUTF8 { cache.insert($0, claims: claims, expires: expires.overflow ? .max : expires.partialValue, now: now) }
            granted = claims.access
        }
        let needed = access()
        for requirement in needed where !granted.contains(where: { $0.grants(type: requirement.type, name: requirement.name, action: requirement.action) }) {
            metrics.authAccessDenied += 1
            let scope = "\(requirement.type):\(requirement.name):\(requirement.action)"
            let denied = granted.contains(where: { $0.type == requirement.type && $0.name == requirement.name })
            exchange.respond(challenge(exchange, needed, error: "insufficient_scope", detail: "the token does not grant \(scope)",
                                       code: denied ? .denied : .unauthorized))
            return false
        }
        if let pulling, let admitting { admitting.admittedPull = pulling }
        return true
    }

    /// What the request's `Authorization` holds, as far as the gate is concerned.
    private enum Presented {
        /// No Bearer token (no header, another scheme, a malformed value).
        case absent
        case cached(TokenCache.Entry)
        /// A token to verify.
        case new(String)
    }

    /// Nothing is read from disk after the start: the bundle is the configuration's (as in registry:2).
    func reload() {}

    /// registry:2 splits the value at spaces and wants exactly "Bearer" (any case) and the token. On the value's
    /// bytes: Character-level splitting of a kilobyte token cost 80 us a request, four times the rest of a manifest
    /// GET, and a byte-wise walk of a Substring's UTF8View still 5 us.
    static func bearerToken(_ value: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        let space = UInt8(ascii: " ")
        // Byte by byte, case folded: a zip of the slice with a String's UTF8View cost ~500 instructions a request.
        guard value.count > 7, value[6] == space, value[0] | 0x20 == UInt8(ascii: "b"), value[1] | 0x20 == UInt8(ascii: "e"),
              value[2] | 0x20 == UInt8(ascii: "a"), value[3] | 0x20 == UInt8(ascii: "r"), value[4] | 0x20 == UInt8(ascii: "e"),
              value[5] | 0x20 == UInt8(ascii: "r") else { return nil }
        let token = UnsafeBufferPointer(rebasing: value[7...])
        guard let start = token.baseAddress, memchr(start, Int32(space), token.count) == nil else { return nil }
        return token
    }

    /// The same for a value in hand (the UI's check of whether a browser brings a token).
    static func bearerToken(_ authorization: String) -> String? {
        var authorization = authorization
        return authorization.withUTF8 { bytes in bearerToken(bytes).map { String(decoding: $0, as: UTF8.self) } }
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
