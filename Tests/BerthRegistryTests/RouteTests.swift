@testable import BerthRegistry
import BerthStorage
import XCTest

final class RouteTests: XCTestCase {
    func name(_ text: String) -> RepositoryName { RepositoryName(text)! }

    func test_endpoints_are_recognised_from_the_end_of_the_path() {
        XCTAssertEqual(try Route.parse("/v2/").get(), .base)
        XCTAssertEqual(try Route.parse("/v2").get(), .base)
        XCTAssertEqual(try Route.parse("/v2/_catalog").get(), .catalog)
        XCTAssertEqual(try Route.parse("/v2/a/b/c/tags/list").get(), .tags(name("a/b/c")))
        XCTAssertEqual(try Route.parse("/v2/library/ubuntu/manifests/latest").get(), .manifest(name("library/ubuntu"), reference: "latest"))
        XCTAssertEqual(try Route.parse("/v2/a/blobs/sha256:00").get(), .blob(name("a"), digest: "sha256:00"))
        XCTAssertEqual(try Route.parse("/v2/a/blobs/uploads/").get(), .uploads(name("a")))
        XCTAssertEqual(try Route.parse("/v2/a/blobs/uploads").get(), .uploads(name("a")))
        XCTAssertEqual(try Route.parse("/v2/a/blobs/uploads/abc-1").get(), .upload(name("a"), id: "abc-1"))
        XCTAssertEqual(try Route.parse("/v2/blobs/blobs/uploads/x").get(), .upload(name("blobs"), id: "x"))
        XCTAssertEqual(try Route.parse("/v2/a/referrers/sha256:00").get(), .referrers(name("a"), digest: "sha256:00"))
    }

    func test_percent_escapes_in_the_reference_are_decoded() {
        XCTAssertEqual(try Route.parse("/v2/a/blobs/sha256%3A00").get(), .blob(name("a"), digest: "sha256:00"))
    }

    func test_bad_names_and_unknown_paths_fail() {
        XCTAssertEqual(Route.parse("/v2/Bad/manifests/x"), .failure(.invalidName("Bad")))
        XCTAssertEqual(Route.parse("/v2/../etc/manifests/x"), .failure(.invalidName("../etc")))
        XCTAssertEqual(Route.parse("/v2/a/_uploads/manifests/x"), .failure(.invalidName("a/_uploads")))
        XCTAssertEqual(Route.parse("/v3/a/manifests/x"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/a/things/x"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/a/manifests/"), .failure(.noRoute))
    }

    func test_the_path_is_read_from_a_slice_of_the_target_and_repeated_slashes_after_v2_are_skipped() {
        let target = "/v2//library/ubuntu/manifests/sha256%3Aab?n=1"
        let path = target[..<target.firstIndex(of: "?")!]
        XCTAssertEqual(try Route.parse(path).get(), .manifest(name("library/ubuntu"), reference: "sha256:ab"))
        XCTAssertEqual(try Route.parse("/v2///").get(), .base)
        XCTAssertEqual(Route.parse("/v2x/a/manifests/x"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/manifests/x"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/tags/list"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/a/tags/lists"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/a/manifest/x"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/\u{e9}t\u{e9}/manifests/x"), .failure(.invalidName("\u{e9}t\u{e9}")))
        XCTAssertEqual(Route.parse("/v2/a%2Fb/manifests/x"), .success(.manifest(name("a/b"), reference: "x")))
    }

    func test_hostile_paths_route_or_fail_without_trapping() {
        let huge = "/v2/" + String(repeating: "a/", count: 20_000) + "manifests/x"
        XCTAssertEqual(Route.parse(huge[...]), .failure(.invalidName(String(repeating: "a/", count: 20_000).dropLast().description)))
        XCTAssertEqual(Route.parse(""), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/" + String(repeating: "/", count: 10_000)), .success(.base))
        XCTAssertEqual(Route.parse("/v2/a/manifests/%"), .success(.manifest(name("a"), reference: "%")))
        XCTAssertEqual(Route.parse("/v2/a/manifests/%zz%4"), .success(.manifest(name("a"), reference: "%zz%4")))
        XCTAssertEqual(Route.parse("/v2/a/blobs/uploads//"), .failure(.noRoute))
        XCTAssertEqual(Route.parse("/v2/%00/manifests/x"), .failure(.invalidName("\u{0}")))
        XCTAssertEqual(Route.parse("/v2/a%2F%2Fb/manifests/x"), .failure(.invalidName("a//b")))
    }
}
