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

    func test_hostile_names_and_tags_are_refused_by_their_bytes() {
        XCTAssertNil(RepositoryName(""))
        XCTAssertNil(RepositoryName(String(repeating: "a", count: 256)))
        XCTAssertNotNil(RepositoryName(String(repeating: "a", count: 255)))
        XCTAssertNil(RepositoryName("a\u{0}b"))
        XCTAssertNil(RepositoryName("\u{e9}"))
        XCTAssertNil(RepositoryName("a//b"))
        XCTAssertNil(RepositoryName(String(repeating: "a/", count: 100)))
        XCTAssertNil(Tag(""))
        XCTAssertNil(Tag(String(repeating: "t", count: 129)))
        XCTAssertNotNil(Tag(String(repeating: "t", count: 128)))
        XCTAssertNil(Tag("-leading"))
        XCTAssertNil(Tag("t\u{e9}"))
        let sliced = "xx/repo/yy"
        XCTAssertEqual(RepositoryName(sliced.dropFirst(3).dropLast(3))?.value, "repo")
    }
}
