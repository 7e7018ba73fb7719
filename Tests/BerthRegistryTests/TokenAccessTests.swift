@testable import BerthRegistry
import BerthHTTP
import BerthJWT
import BerthStorage
import XCTest

/// What each route needs from a token (registry:2's access records), the challenge's scope, the Bearer value as
/// registry:2 reads it, and the cache of verified tokens.
final class TokenAccessTests: XCTestCase {
    func route(_ path: Substring) -> Route { try! Route.parse(path).get() }

    func needs(_ path: Substring, _ method: HTTPMethod, query: Substring = "") -> String {
        AccessRequirement.scope(AccessRequirement.of(route(path), method: method, query: query))
    }

    func test_each_route_needs_registry2s_access_records() {
        XCTAssertEqual(needs("/v2/", .get), "")
        XCTAssertEqual(needs("/v2/_catalog", .get), "registry:catalog:*")
        XCTAssertEqual(needs("/v2/team/app/manifests/latest", .get), "repository:team/app:pull")
        XCTAssertEqual(needs("/v2/team/app/manifests/latest", .head), "repository:team/app:pull")
        XCTAssertEqual(needs("/v2/team/app/tags/list", .get), "repository:team/app:pull")
        XCTAssertEqual(needs("/v2/team/app/referrers/sha256:00", .get), "repository:team/app:pull")
        XCTAssertEqual(needs("/v2/team/app/manifests/latest", .put), "repository:team/app:pull,push")
        XCTAssertEqual(needs("/v2/team/app/blobs/uploads/", .post), "repository:team/app:pull,push")
        XCTAssertEqual(needs("/v2/team/app/blobs/uploads/abc", .patch), "repository:team/app:pull,push")
        XCTAssertEqual(needs("/v2/team/app/manifests/sha256:00", .delete), "repository:team/app:delete")
        XCTAssertEqual(needs("/v2/team/app/blobs/uploads/", .post, query: "mount=sha256:00&from=other%2Fbase"),
                       "repository:team/app:pull,push repository:other/base:pull")
        XCTAssertEqual(needs("/v2/team/app/blobs/uploads/", .post, query: "mount=sha256:00&from="), "repository:team/app:pull,push")
    }

    func test_a_kraken_namespace_is_a_repository_of_that_name() {
        func kraken(_ path: Substring, _ method: HTTPMethod) -> String {
            AccessRequirement.scope(AccessRequirement.ofKraken(path: path, method: method))
        }
        XCTAssertEqual(kraken("/namespace/team%2Fapp/blobs/sha256:00", .get), "repository:team/app:pull")
        XCTAssertEqual(kraken("/namespace/team%2Fapp/blobs/sha256:00/uploads", .post), "repository:team/app:pull,push")
        XCTAssertEqual(kraken("/namespace/team%2Fapp/blobs/sha256:00/uploads/u1", .put), "repository:team/app:pull,push")
        XCTAssertEqual(kraken("/namespace/team%2Fapp/blobs/not-a-digest", .get), "repository:team/app:pull", "whatever the rest of the path")
        XCTAssertEqual(kraken("/namespace/", .get), "", "no namespace: a valid token, and the handler's own answer")
    }

    func test_a_bearer_value_is_the_scheme_one_space_and_the_token() {
        XCTAssertEqual(TokenGate.bearerToken("Bearer abc.def.ghi"), "abc.def.ghi")
        XCTAssertEqual(TokenGate.bearerToken("bearer abc"), "abc")
        XCTAssertEqual(TokenGate.bearerToken("BEARER abc"), "abc")
        for bad in ["Bearer", "Bearer ", "Bearer  abc", "Bearer a b", "Basic dTpw", "abc", "Bearér abc", "Bearer\tabc", " abc"] {
            XCTAssertNil(TokenGate.bearerToken(bad), bad)
        }
    }

    func test_the_cache_keeps_a_token_until_it_expires_within_its_capacity() {
        let claims = TokenClaims(issuer: "i", subject: "s", audience: ["a"], expiresAt: 100, notBefore: 0, issuedAt: 0, id: "", access: [])
        var cache = TokenCache(capacity: 2)
        let (a, b, c) = (CredentialCache.Key(authorization: "a"), CredentialCache.Key(authorization: "b"), CredentialCache.Key(authorization: "c"))
        cache.insert(a, claims: claims, expires: 160, now: 0)
        XCTAssertEqual(cache.claims(for: a, now: 160), claims)
        XCTAssertNil(cache.claims(for: a, now: 161))
        XCTAssertEqual(cache.count, 0, "an expired entry goes when it is looked up")
        cache.insert(a, claims: claims, expires: 50, now: 0)
        cache.insert(b, claims: claims, expires: 90, now: 0)
        cache.insert(c, claims: claims, expires: 70, now: 0)
        XCTAssertEqual(cache.count, 2)
        XCTAssertNil(cache.claims(for: a, now: 0), "the entry closest to expiry made room")
        XCTAssertNotNil(cache.claims(for: b, now: 0))
        XCTAssertNotNil(cache.claims(for: c, now: 0))
    }
}
