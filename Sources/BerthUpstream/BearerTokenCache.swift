import Foundation

/// Bearer tokens by realm, service and scope, each kept until its `expires_in` has passed
/// (times in milliseconds on the caller's clock, the loop's).
struct BearerTokenCache {
    private var entries: [String: (token: String, expiresAt: UInt64)] = [:]

    static func key(realm: String, service: String?, scope: String?) -> String {
        "\(realm)\n\(service ?? "")\n\(scope ?? "")"
    }

    func token(for key: String, now: UInt64) -> String? {
        guard let entry = entries[key], now < entry.expiresAt else { return nil }
        return entry.token
    }

    mutating func store(_ token: String, for key: String, expiresInSeconds: Int, now: UInt64) {
        entries[key] = (token, now + UInt64(expiresInSeconds) * 1000)
    }

    /// Drops `token` if it is still the one cached (the upstream refused it before its time).
    mutating func forget(_ token: String, for key: String) {
        if entries[key]?.token == token { entries[key] = nil }
    }
}

/// A token endpoint's answer (Docker token authentication specification, "Token Response Fields").
struct BearerTokenResponse: Equatable {
    var token: String
    var expiresInSeconds: Int

    /// The spec's default lifetime when `expires_in` is absent.
    static let defaultLifetimeSeconds = 60

    /// `token`, or OAuth2's `access_token` when `token` is absent; nil when neither is a string.
    init?(json: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
              let token = (object["token"] as? String) ?? (object["access_token"] as? String), !token.isEmpty
        else { return nil }
        self.token = token
        let lifetime = (object["expires_in"] as? NSNumber)?.intValue ?? 0
        expiresInSeconds = lifetime > 0 ? lifetime : Self.defaultLifetimeSeconds
    }
}
