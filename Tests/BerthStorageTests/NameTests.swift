@testable import BerthStorage
import XCTest

final class NameTests: XCTestCase {
    func test_spec_names_are_accepted() {
        for name in ["a", "library/ubuntu", "a/b/c", "my-app", "my--app", "a.b", "a_b", "a__b", "x9/y-z.w"] {
            XCTAssertNotNil(RepositoryName(name), name)
        }
    }

    func test_names_that_break_the_grammar_or_escape_are_refused() {
        for name in ["", "A", "a//b", "/a", "a/", "../etc", "a/..", "a/_b", "_a", "a___b", "a.-b", "a-", ".a", "a b", "a/%2e%2e"] {
            XCTAssertNil(RepositoryName(name), name)
        }
        XCTAssertNil(RepositoryName(String(repeating: "a", count: 256)))
    }

    func test_tags_follow_the_spec() {
        XCTAssertNotNil(Tag("latest"))
        XCTAssertNotNil(Tag("v1.2.3-rc_1"))
        XCTAssertNotNil(Tag("_x"))
        XCTAssertNil(Tag(".x"))
        XCTAssertNil(Tag("-x"))
        XCTAssertNil(Tag("a/b"))
        XCTAssertNil(Tag(String(repeating: "a", count: 129)))
    }

    func test_digests_follow_the_grammar() {
        XCTAssertNotNil(Digest("sha256:" + String(repeating: "0", count: 64)))
        XCTAssertNil(Digest("sha256:" + String(repeating: "A", count: 64)))
        XCTAssertNil(Digest("sha256:abc"))
        XCTAssertNil(Digest("md5:" + String(repeating: "0", count: 32)))
        XCTAssertNil(Digest("sha256"))
    }
}
