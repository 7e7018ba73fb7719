@testable import BerthRegistry
import BerthHTTP
import BerthStorage
import BerthUpstream
import XCTest

/// Every decision of the mirror's caching rule, without a store or an upstream.
final class MirrorCachePolicyTests: XCTestCase {
    let digest = Digest("sha256:" + String(repeating: "a", count: 64))!
    let other = Digest("sha256:" + String(repeating: "b", count: 64))!
    let policy = MirrorCachePolicy(tagTTLSeconds: 300, recordsUses: true)

    // MARK: Manifests

    func test_a_manifest_cached_by_digest_is_served_for_good() {
        XCTAssertEqual(policy.manifest(.digest(digest)), .serve(digest))
        XCTAssertEqual(MirrorCachePolicy(tagTTLSeconds: 0, recordsUses: false).manifest(.digest(digest)), .serve(digest))
    }

    func test_a_tag_younger_than_its_ttl_is_served_from_the_cache() {
        XCTAssertEqual(policy.manifest(.tag(digest, secondsSinceValidated: 0)), .serve(digest))
        XCTAssertEqual(policy.manifest(.tag(digest, secondsSinceValidated: 299.9)), .serve(digest))
    }

    func test_a_tag_at_or_past_its_ttl_is_revalidated() {
        XCTAssertEqual(policy.manifest(.tag(digest, secondsSinceValidated: 300)), .revalidate(digest))
        XCTAssertEqual(policy.manifest(.tag(digest, secondsSinceValidated: 86_400)), .revalidate(digest))
    }

    func test_a_zero_ttl_revalidates_every_tag_request() {
        let always = MirrorCachePolicy(tagTTLSeconds: 0, recordsUses: false)
        XCTAssertEqual(always.manifest(.tag(digest, secondsSinceValidated: 0)), .revalidate(digest))
    }

    func test_nothing_cached_is_fetched() {
        XCTAssertEqual(policy.manifest(.absent), .fetch)
    }

    func test_a_revalidated_tag_that_still_names_the_cached_digest_is_unchanged() {
        XCTAssertEqual(policy.revalidation(of: digest, announced: digest.description), .unchanged)
    }

    func test_a_tag_that_moved_or_whose_digest_the_upstream_did_not_say_is_fetched_again() {
        XCTAssertEqual(policy.revalidation(of: digest, announced: other.description), .moved)
        XCTAssertEqual(policy.revalidation(of: digest, announced: nil), .moved)
        XCTAssertEqual(policy.revalidation(of: digest, announced: digest.encoded), .moved)
    }

    func test_a_failed_refresh_serves_the_cached_copy_stale_and_fails_without_one() {
        XCTAssertEqual(policy.afterFailedRefresh(cachedCopy: true), .serveStale)
        XCTAssertEqual(policy.afterFailedRefresh(cachedCopy: false), .fail)
    }

    // MARK: Blobs

    func test_a_stored_blob_is_served_for_good_and_a_missing_one_downloaded() {
        XCTAssertEqual(policy.blob(stored: true), .serve)
        XCTAssertEqual(policy.blob(stored: false), .download)
    }

    // MARK: Use marks

    func test_uses_are_recorded_at_most_once_an_interval_per_blob() {
        let interval = MirrorCachePolicy.useMarkIntervalMilliseconds
        XCTAssertTrue(policy.recordsUse(lastRecorded: nil, now: 1_000))
        XCTAssertFalse(policy.recordsUse(lastRecorded: 1_000, now: 1_000))
        XCTAssertFalse(policy.recordsUse(lastRecorded: 1_000, now: 1_000 + interval - 1))
        XCTAssertTrue(policy.recordsUse(lastRecorded: 1_000, now: 1_000 + interval))
    }

    func test_without_a_cache_bound_no_use_is_recorded() {
        let unbounded = MirrorCachePolicy(tagTTLSeconds: 300, recordsUses: false)
        XCTAssertFalse(unbounded.recordsUse(lastRecorded: nil, now: 1_000))
    }

    func test_the_policy_follows_the_configuration() {
        var options = MirrorOptions()
        options.tagTTLSeconds = 42
        XCTAssertEqual(MirrorCachePolicy(options).tagTTLSeconds, 42)
        XCTAssertFalse(MirrorCachePolicy(options).recordsUses)
        options.cacheMaxBytes = 1 << 30
        XCTAssertTrue(MirrorCachePolicy(options).recordsUses)
    }

    // MARK: Eviction (in storage, shared with the garbage collector)

    func test_eviction_takes_blobs_no_tag_needs_first_then_the_least_recently_used() {
        let third = Digest("sha256:" + String(repeating: "c", count: 64))!
        let fourth = Digest("sha256:" + String(repeating: "d", count: 64))!
        let blobs: [(Digest, Int64, Double)] = [(digest, 1, 40), (other, 1, 10), (third, 1, 30), (fourth, 1, 20)]
        let order = EvictionOrder.sorted(blobs, needed: [other, fourth]).map(\.0)
        XCTAssertEqual(order, [third, digest, other, fourth])
    }

    // MARK: Upstream failures

    func test_an_upstream_404_is_unknown_so_containerd_falls_back() {
        XCTAssertEqual(MirrorCachePolicy.answer(for: .status(404)), .unknown)
    }

    func test_an_upstream_refusal_is_a_404_too() {
        XCTAssertEqual(MirrorCachePolicy.answer(for: .status(401)), .refused)
        XCTAssertEqual(MirrorCachePolicy.answer(for: .status(403)), .refused)
    }

    func test_upstream_rate_limiting_is_passed_on() {
        XCTAssertEqual(MirrorCachePolicy.answer(for: .status(429)), .rateLimited)
    }

    func test_any_other_upstream_status_is_a_bad_answer() {
        for status in [200, 206, 301, 400, 405, 410, 500, 502, 503, 504] {
            XCTAssertEqual(MirrorCachePolicy.answer(for: .status(status)), .badAnswer, "\(status)")
        }
    }

    func test_an_unreachable_upstream_is_503_and_a_failed_exchange_502() {
        XCTAssertEqual(MirrorCachePolicy.answer(for: .unreachable), .unreachable)
        XCTAssertEqual(MirrorCachePolicy.answer(for: .exchangeFailed), .badAnswer)
    }

    func test_upstream_errors_are_told_apart_by_whether_it_was_reached() {
        let unreachable: [UpstreamError] = [
            .dnsFailure(host: "h", reason: "r"), .connectionRefused(host: "h", port: 1),
            .connectFailed(host: "h", port: 1, reason: "r"), .timeout(.connect, host: "h", milliseconds: 1),
            .timeout(.read, host: "h", milliseconds: 1),
        ]
        for error in unreachable { XCTAssertEqual(MirrorCachePolicy.UpstreamFailure(error), .unreachable, "\(error)") }
        let failed: [UpstreamError] = [
            .tlsHandshakeFailed(host: "h", reason: "r"), .tlsVerificationFailed(host: "h", reason: "r"),
            .malformedResponse("m"), .peerClosed("early"), .responseTooLarge(limit: 1), .tooManyRedirects(5),
            .authenticationFailed("a"),
        ]
        for error in failed { XCTAssertEqual(MirrorCachePolicy.UpstreamFailure(error), .exchangeFailed, "\(error)") }
    }

    func test_each_answer_has_its_status_and_code() throws {
        var options = MirrorOptions()
        options.upstreams = [MirrorOptions.Upstream(host: "127.0.0.1", url: "http://127.0.0.1:5001")]
        let upstream = try Mirror(options: options, loop: EventLoop()).upstreams[0].registry
        func status(_ code: Int) -> (Int, RegistryError.Code) {
            let error = Mirror.registryError(status: code, from: upstream, what: "blob x", unknown: .blobUnknown)
            return (error.status, error.code)
        }
        XCTAssertTrue(status(404) == (404, .blobUnknown))
        XCTAssertTrue(status(401) == (404, .blobUnknown))
        XCTAssertTrue(status(403) == (404, .blobUnknown))
        XCTAssertTrue(status(429) == (429, .tooManyRequests))
        XCTAssertEqual(status(500).0, 502)
        XCTAssertEqual(Mirror.registryError(.connectionRefused(host: "h", port: 1), from: upstream, what: "blob x").status, 503)
        XCTAssertEqual(Mirror.registryError(.malformedResponse("m"), from: upstream, what: "blob x").status, 502)
    }
}
