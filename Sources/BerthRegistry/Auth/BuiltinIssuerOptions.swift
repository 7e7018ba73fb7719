/// What `auth.builtin` configures: the built-in token issuer, served on the registry's own port.
public struct BuiltinIssuerOptions: Equatable {
    public static let defaultService = "berth"
    public static let defaultIssuer = "berth"
    public static let defaultPath = "/auth/token"
    /// Five minutes: a client asks again when its token runs out, which costs no bcrypt (the login is cached).
    public static let defaultExpirationSeconds: Int64 = 300
    /// Thirty days: how long `docker login`'s identity token lets the daemon ask for access tokens.
    public static let defaultRefreshExpirationSeconds: Int64 = 30 * 24 * 3600

    public var htpasswdPath: String
    public var keyPath: String
    /// The token's audience, and the `service` of the registry's challenge.
    public var service = defaultService
    /// The token's `iss`.
    public var issuer = defaultIssuer
    /// The URL of the challenge's realm; nil: the host the client asked, at `path`.
    public var realm: String?
    /// Where the endpoint is served: the realm's path when one is given.
    public var path = defaultPath
    public var expirationSeconds = defaultExpirationSeconds
    /// 0: no refresh tokens (clients keep the password and log in for each token).
    public var refreshExpirationSeconds = defaultRefreshExpirationSeconds
    public var rules: AccessRules

    public init(htpasswdPath: String, keyPath: String, rules: AccessRules) {
        self.htpasswdPath = htpasswdPath
        self.keyPath = keyPath
        self.rules = rules
    }
}
