import BerthJWT

/// Claims of tokens already verified, by the SHA-256 of the token (never the token itself), so a client that
/// sends the same token on every request costs one signature check per worker, not one per request. An entry
/// lives until its token expires (exp plus the leeway); the count is bounded (the entry closest to expiry makes
/// room). Only accepted tokens are kept: a refusal is cheap to find again, or costs one verification like any new
/// token. Pure: the caller says what time it is (seconds since 1970).
struct TokenCache {
    static let defaultCapacity = 4096

    private struct Entry {
        let claims: TokenClaims
        let expires: Int64
    }

    let capacity: Int
    private var entries: [CredentialCache.Key: Entry] = [:]

    init(capacity: Int = defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    mutating func claims(for key: CredentialCache.Key, now: Int64) -> TokenClaims? {
        guard let entry = entries[key] else { return nil }
        guard now <= entry.expires else {
            entries[key] = nil
            return nil
        }
        return entry.claims
    }

    mutating func insert(_ key: CredentialCache.Key, claims: TokenClaims, expires: Int64, now: Int64) {
        if entries[key] == nil, entries.count >= capacity {
            entries = entries.filter { now <= $0.value.expires }
            if entries.count >= capacity, let soonest = entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                entries[soonest] = nil
            }
        }
        entries[key] = Entry(claims: claims, expires: expires)
    }
}
