@testable import BerthRegistry
import BerthHTTP
import BerthJWT
import BerthStorage
import XCTest

/// What each route needs from a token (registry:2's access records), the challenge's scope, the Bearer value as
/// registry:2 reads it (the cache of verified tokens: TokenCacheTests).
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

    /// A gate admits a pull it admitted before for the same token by `pullOnly` alone: it must name a repository
    /// only where the records are that one pull.
    func test_pull_only_names_the_repository_only_when_one_pull_is_all_the_route_needs() {
        let cases: [(Substring, HTTPMethod, Substring, String?)] = [
            ("/v2/team/app/manifests/latest", .get, "", "team/app"),
            ("/v2/team/app/manifests/latest", .head, "", "team/app"),
            ("/v2/team/app/blobs/sha256:00", .get, "", "team/app"),
            ("/v2/team/app/tags/list", .get, "", "team/app"),
            ("/v2/team/app/tags/list", .get, "n=10", nil),
            ("/v2/team/app/blobs/uploads/", .post, "mount=sha256:00&from=other%2Fbase", nil),
            ("/v2/team/app/blobs/uploads/", .get, "from=other", nil),
            ("/v2/team/app/manifests/latest", .put, "", nil),
            ("/v2/team/app/manifests/latest", .delete, "", nil),
            ("/v2/_catalog", .get, "", nil),
            ("/v2/", .get, "", nil),
        ]
        for (path, method, query, expected) in cases {
            let pull = AccessRequirement.pullOnly(route(path), method: method, query: query)
            XCTAssertEqual(pull, expected, "\(method) \(path)?\(query)")
            if let pull {
                XCTAssertEqual(AccessRequirement.of(route(path), method: method, query: query),
                               [AccessRequirement(type: "repository", name: pull, action: "pull")])
            }
        }
    }

    func test_a_bearer_value_is_the_scheme_one_space_and_the_token() {
        XCTAssertEqual(TokenGate.bearerToken("Bearer abc.def.ghi"), "abc.def.ghi")
        XCTAssertEqual(TokenGate.bearerToken("bearer abc"), "abc")
        XCTAssertEqual(TokenGate.bearerToken("BEARER abc"), "abc")
        for bad in ["Bearer", "Bearer ", "Bearer  abc", "Bearer a b", "Basic dTpw", "abc", "Bearér abc", "Bearer\tabc", " abc"] {
            XCTAssertNil(TokenGate.bearerToken(bad), bad)
        }
    }
}
