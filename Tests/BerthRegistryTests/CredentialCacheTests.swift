@testable import BerthRegistry
import XCTest

/// Verified credentials kept by the SHA-256 of their Authorization value, bounded in time and in count.
final class CredentialCacheTests: XCTestCase {
    private let a = CredentialCache.Key(authorization: "Basic YWxpY2U6c2VjcmV0")
    private let b = CredentialCache.Key(authorization: "Basic Ym9iOnNlY3JldA==")

    func test_the_key_is_the_sha256_of_the_value_so_equal_values_share_it_and_others_do_not() {
        XCTAssertEqual(a, CredentialCache.Key(authorization: "Basic YWxpY2U6c2VjcmV0"))
        XCTAssertNotEqual(a, b)
        XCTAssertNotEqual(a, CredentialCache.Key(authorization: "basic YWxpY2U6c2VjcmV0"))
        // SHA-256("abc") begins ba7816bf 8f01cfea: the first word holds those bytes in memory order.
        let abc = CredentialCache.Key(authorization: "abc")
        withUnsafeBytes(of: abc.words) { XCTAssertEqual(Array($0.prefix(8)), [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea]) }
    }

    func test_an_entry_lives_for_its_lifetime_then_the_next_request_verifies_again() {
        var cache = CredentialCache(lifetime: 1000, capacity: 10)
        XCTAssertNil(cache.user(for: a, now: 0))
        cache.insert(a, user: "alice", now: 100)
        XCTAssertEqual(cache.user(for: a, now: 100), "alice")
        XCTAssertEqual(cache.user(for: a, now: 1099), "alice")
        XCTAssertNil(cache.user(for: a, now: 1100))
        XCTAssertEqual(cache.count, 0, "an expired entry is dropped when found")
        XCTAssertNil(cache.user(for: b, now: 100))
    }

    func test_when_full_expired_entries_go_first_then_the_one_closest_to_expiry() {
        var cache = CredentialCache(lifetime: 1000, capacity: 2)
        cache.insert(a, user: "alice", now: 0)
        cache.insert(b, user: "bob", now: 500)
        let c = CredentialCache.Key(authorization: "c")
        cache.insert(c, user: "carol", now: 600)
        XCTAssertEqual(cache.count, 2)
        XCTAssertNil(cache.user(for: a, now: 600), "the soonest to expire made room")
        XCTAssertEqual(cache.user(for: b, now: 600), "bob")
        XCTAssertEqual(cache.user(for: c, now: 600), "carol")
        let d = CredentialCache.Key(authorization: "d")
        cache.insert(d, user: "dave", now: 1550)
        XCTAssertEqual(cache.count, 2, "bob expired at 1500 and was swept")
        XCTAssertEqual(cache.user(for: c, now: 1550), "carol")
        XCTAssertEqual(cache.user(for: d, now: 1550), "dave")
    }

    func test_inserting_a_key_again_renews_it_without_evicting_another() {
        var cache = CredentialCache(lifetime: 1000, capacity: 2)
        cache.insert(a, user: "alice", now: 0)
        cache.insert(b, user: "bob", now: 0)
        cache.insert(a, user: "alice", now: 900)
        XCTAssertEqual(cache.user(for: a, now: 1800), "alice")
        XCTAssertEqual(cache.user(for: b, now: 999), "bob")
    }

    func test_remove_all_empties_it_when_the_file_changes() {
        var cache = CredentialCache()
        cache.insert(a, user: "alice", now: 0)
        cache.removeAll()
        XCTAssertNil(cache.user(for: a, now: 0))
    }
}
