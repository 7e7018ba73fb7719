import BerthJWT
import Glibc

/// Tokens already verified, so a client that sends the same token on every request costs one signature check
/// per worker, not one per request. Found by the token's bytes as they lie in the request head: a cheap hash of
/// their end picks the entry, and the entry's own copy of the token must equal them byte for byte, so a token that
/// differs anywhere is a miss whatever its hash. The SHA-256 of a ~600-byte token per request (what the cache
/// was keyed by) and the two Strings made of the header on the way cost more than the rest of the gate.
/// So the cache holds the token itself where it held a SHA-256 of it: a credential until it expires, which the
/// worker's request buffers hold as well while it is used. An entry lives until its token expires (exp plus
/// the leeway); the count is bounded (the entry closest to expiry makes room); two tokens of one hash share a
/// place, the later one kept. Only accepted tokens are kept: a refusal is cheap to find again, or costs one
/// verification like any new token. Pure: the caller says what time it is (seconds since 1970).
struct TokenCache {
    static let defaultCapacity = 4096

    /// One verified token: a class, so a hit hands the claims over with one retain, not one per String in them.
    final class Entry {
        let token: [UInt8]
        let claims: TokenClaims
        let expires: Int64
        /// The repository whose pull these claims were last found to grant (`TokenGate`): a kept-alive client
        /// pulls from one repository request after request.
        var admittedPull: String?

        init(token: [UInt8], claims: TokenClaims, expires: Int64) {
            self.token = token
            self.claims = claims
            self.expires = expires
        }

        func holds(_ presented: UnsafeBufferPointer<UInt8>) -> Bool {
            token.count == presented.count && token.withUnsafeBufferPointer { memcmp($0.baseAddress!, presented.baseAddress!, presented.count) == 0 }
        }
    }

    let capacity: Int
    private let hash: (UnsafeBufferPointer<UInt8>) -> UInt64
    private var entries: [UInt64: Entry] = [:]

    /// `hash`: the tests' way to make every token collide.
    init(capacity: Int = defaultCapacity, hash: @escaping (UnsafeBufferPointer<UInt8>) -> UInt64 = TokenCache.tailHash) {
        self.capacity = max(1, capacity)
        self.hash = hash
    }

    var count: Int { entries.count }

    /// The entry of exactly this token while it lives. `token` is never empty (`TokenGate.bearerToken`).
    mutating func entry(for token: UnsafeBufferPointer<UInt8>, now: Int64) -> Entry? {
        guard !token.isEmpty else { return nil }
        let key = hash(token)
        guard let entry = entries[key], entry.holds(token) else { return nil }
        guard now <= entry.expires else {
            entries[key] = nil
            return nil
        }
        return entry
    }

    mutating func insert(_ token: UnsafeBufferPointer<UInt8>, claims: TokenClaims, expires: Int64, now: Int64) {
        guard !token.isEmpty else { return }
        let key = hash(token)
        if entries[key] == nil, entries.count >= capacity {
            entries = entries.filter { now <= $0.value.expires }
            if entries.count >= capacity, let soonest = entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                entries[soonest] = nil
            }
        }
        entries[key] = Entry(token: Array(token), claims: claims, expires: expires)
    }

    /// The length and the last 32 bytes, eight at a time, multiplied and folded: a JWT ends in its signature,
    /// which differs between any two tokens (ES256 signs with a fresh random k; any other claim changes RS256's),
    /// while the tokens of one issuer share their first ~40 bytes (the header). Hashing all 600 and more cost
    /// ~900 instructions a request. Not a defence against chosen collisions and not meant as one: the exact
    /// comparison decides, only verified tokens are ever stored, and the dictionary hashes this again with the
    /// process's random seed.
    static func tailHash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let raw = UnsafeRawBufferPointer(bytes)
        var hash = UInt64(raw.count) &* 0x9e37_79b9_7f4a_7c15
        var offset = max(0, raw.count - 32)
        while offset + 8 <= raw.count {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xff51_afd7_ed55_8ccd
            hash ^= hash >> 32
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < raw.count {
            tail |= UInt64(raw[offset]) << shift
            shift += 8
            offset += 1
        }
        hash = (hash ^ tail) &* 0xc4ce_b9fe_1a85_ec53
        return hash ^ (hash >> 29)
    }
}
