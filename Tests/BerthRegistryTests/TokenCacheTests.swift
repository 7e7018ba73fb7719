@testable import BerthRegistry
import BerthJWT
import XCTest

/// The cache of verified tokens: found by a token's exact bytes (a hash only picks the place), kept until the
/// token expires, bounded in count.
final class TokenCacheTests: XCTestCase {
    private func claims(_ subject: String) -> TokenClaims {
        TokenClaims(issuer: "i", subject: subject, audience: ["a"], expiresAt: 100, notBefore: 0, issuedAt: 0, id: "", access: [])
    }

    /// A JWT-sized token, every byte a base64url character.
    private let token: [UInt8] = (0..<640).map { Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".utf8)[$0 * 7 % 65] }

    private func find(_ cache: inout TokenCache, _ token: [UInt8], now: Int64 = 0) -> TokenClaims? {
        token.withUnsafeBufferPointer { cache.entry(for: $0, now: now)?.claims }
    }

    private func insert(_ cache: inout TokenCache, _ token: [UInt8], _ claims: TokenClaims, expires: Int64, now: Int64 = 0) {
        token.withUnsafeBufferPointer { cache.insert($0, claims: claims, expires: expires, now: now) }
    }

    /// Every token hashes alike here: only the comparison of the bytes can tell them apart.
    func test_a_token_differing_in_one_byte_is_not_the_cached_one_even_of_the_same_hash() {
        for hash in [TokenCache.tailHash, { _ in 0 }] as [(UnsafeBufferPointer<UInt8>) -> UInt64] {
            var cache = TokenCache(hash: hash)
            insert(&cache, token, claims("alice"), expires: 100)
            XCTAssertEqual(find(&cache, token)?.subject, "alice")
            for position in [0, 1, 7, 8, 320, token.count - 9, token.count - 1] {
                var other = token
                other[position] ^= 0x01
                XCTAssertNil(find(&cache, other), "a byte changed at \(position)")
            }
            XCTAssertNil(find(&cache, Array(token.dropLast())), "a prefix")
            XCTAssertNil(find(&cache, token + [UInt8(ascii: "A")]), "one byte longer")
            XCTAssertNil(find(&cache, []), "nothing")
        }
    }

    func test_of_two_tokens_of_one_hash_the_later_is_kept_and_the_earlier_is_a_miss() {
        var cache = TokenCache(hash: { _ in 42 })
        var second = token
        second[100] = UInt8(ascii: "z")
        insert(&cache, token, claims("alice"), expires: 100)
        insert(&cache, second, claims("bob"), expires: 100)
        XCTAssertEqual(cache.count, 1)
        XCTAssertNil(find(&cache, token), "never the other token's claims")
        XCTAssertEqual(find(&cache, second)?.subject, "bob")
    }

    func test_an_entry_lives_until_its_expiry_and_goes_when_looked_up_after() {
        var cache = TokenCache()
        insert(&cache, token, claims("alice"), expires: 160)
        XCTAssertEqual(find(&cache, token, now: 160)?.subject, "alice")
        XCTAssertNil(find(&cache, token, now: 161))
        XCTAssertEqual(cache.count, 0, "an expired entry goes when it is looked up")
    }

    func test_the_count_is_bounded_and_the_entry_closest_to_expiry_makes_room() {
        var cache = TokenCache(capacity: 2)
        let (a, b, c) = (Array("a.b.c".utf8), Array("d.e.f".utf8), Array("g.h.i".utf8))
        insert(&cache, a, claims("a"), expires: 50)
        insert(&cache, b, claims("b"), expires: 90)
        insert(&cache, c, claims("c"), expires: 70)
        XCTAssertEqual(cache.count, 2)
        XCTAssertNil(find(&cache, a), "the entry closest to expiry made room")
        XCTAssertNotNil(find(&cache, b))
        XCTAssertNotNil(find(&cache, c))
        insert(&cache, a, claims("a"), expires: 200, now: 80)
        XCTAssertEqual(cache.count, 2, "an expired entry (c) makes room first")
        XCTAssertNil(find(&cache, c, now: 80))
        XCTAssertNotNil(find(&cache, b, now: 80))
    }

    /// Each step of the hash is a bijection of its state for a given word, so a change of one byte of the last
    /// 32, or of the length, changes the hash: tokens of one issuer, alike but for their signatures, do not share
    /// a place (and those alike at the end are still told apart by their bytes: the test above).
    func test_the_tail_hash_changes_with_every_byte_of_the_last_32_and_with_the_length() {
        let base = token.withUnsafeBufferPointer { TokenCache.tailHash($0) }
        for position in token.count - 32..<token.count {
            var other = token
            other[position] &+= 1
            XCTAssertNotEqual(other.withUnsafeBufferPointer { TokenCache.tailHash($0) }, base, "position \(position)")
        }
        XCTAssertNotEqual((token + [0]).withUnsafeBufferPointer { TokenCache.tailHash($0) }, base)
        let short: [UInt8] = Array("a.b.c".utf8)
        XCTAssertNotEqual(short.withUnsafeBufferPointer { TokenCache.tailHash($0) }, Array("a.b.d".utf8).withUnsafeBufferPointer { TokenCache.tailHash($0) })
    }
}
