import CBerthShims

/// Credentials bcrypt has verified, by the SHA-256 of their `Authorization` value (never the value itself), so a
/// kept-alive client costs one bcrypt, not one per request. Bounded in time (an entry lives `lifetime`, then
/// the next request verifies again) and in count (the entry closest to expiry makes room). Pure: the caller
/// says what time it is (loop milliseconds) and empties it when the file changes.
struct CredentialCache {
    /// Five minutes: a push of large layers verifies again a few times at most; a password changed or a user
    /// removed in the file takes effect at once anyway, since a change of the file empties the cache.
    static let defaultLifetimeMilliseconds: UInt64 = 300_000
    static let defaultCapacity = 1024

    struct Key: Hashable {
        let words: (UInt64, UInt64, UInt64, UInt64)

        static func == (a: Key, b: Key) -> Bool {
            a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
        }

        init(authorization value: String) {
            var value = value
            self = value.withUTF8 { Key(authorization: $0) }
        }

        /// From the value's bytes where the request head holds them.
        init(authorization value: UnsafeBufferPointer<UInt8>) {
            var state = berth_sha256_state()
            berth_sha256_init(&state)
            berth_sha256_update(&state, value.baseAddress, value.count)
            var digest = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &digest) { berth_sha256_peek(&state, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
            words = digest
        }
    }

    private struct Entry {
        let user: String
        let expires: UInt64
    }

    let lifetime: UInt64
    let capacity: Int
    private var entries: [Key: Entry] = [:]

    init(lifetime: UInt64 = defaultLifetimeMilliseconds, capacity: Int = defaultCapacity) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    /// The user the credentials were verified as, while the entry lives.
    mutating func user(for key: Key, now: UInt64) -> String? {
        guard let entry = entries[key] else { return nil }
        guard now < entry.expires else {
            entries[key] = nil
            return nil
        }
        return entry.user
    }

    mutating func insert(_ key: Key, user: String, now: UInt64) {
        if entries[key] == nil, entries.count >= capacity {
            entries = entries.filter { now < $0.value.expires }
            if entries.count >= capacity, let soonest = entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                entries[soonest] = nil
            }
        }
        entries[key] = Entry(user: user, expires: now + lifetime)
    }

    mutating func removeAll() {
        entries = [:]
    }
}
