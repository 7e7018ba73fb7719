import BerthJWT

/// What `auth.token` configures (registry:2's keys), and what the built-in issuer produces for its own tokens.
public struct TokenAuthOptions {
    public var realm: TokenRealm
    public var service: String
    public var issuer: String
    public var trust: TokenTrust
    /// Seconds of clock skew allowed on exp and nbf (registry:2's `Leeway`).
    public var leeway: Int64 = JSONWebToken.defaultLeeway

    public init(realm: TokenRealm, service: String, issuer: String, trust: TokenTrust) {
        self.realm = realm
        self.service = service
        self.issuer = issuer
        self.trust = trust
    }
}

/// Where a challenge sends clients for a token.
public enum TokenRealm: Equatable {
    /// `auth.token.realm`, as configured.
    case fixed(String)
    /// On the host the client reached (its `Host` header), at this path: the built-in issuer, and registry:2's
    /// `autoredirect` (which uses `https://<host>/auth/token`).
    case sameHost(path: String)
}
