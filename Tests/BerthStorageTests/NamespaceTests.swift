@testable import BerthStorage
import XCTest

final class NamespaceTests: XCTestCase {
    func test_a_namespace_is_what_fits_one_directory_name_once_escaped() {
        XCTAssertNotNil(Namespace("team/models"))
        XCTAssertNotNil(Namespace(String(repeating: "a", count: 255)))
        XCTAssertNil(Namespace(String(repeating: "a", count: 256)))
        // Punctuation escapes to three bytes: 85 fit, 86 would be ENAMETOOLONG after the blob is stored.
        XCTAssertNotNil(Namespace(String(repeating: "!", count: 85)))
        XCTAssertNil(Namespace(String(repeating: "!", count: 86)))
        XCTAssertNotNil(Namespace(String(repeating: "é", count: 42)))
        XCTAssertNil(Namespace(String(repeating: "é", count: 43)))
        XCTAssertEqual(Namespace(String(repeating: "!", count: 85))?.directoryName.utf8.count, Namespace.maxDirectoryNameBytes)
        XCTAssertNil(Namespace(""))
    }

    func test_control_characters_and_undecodable_bytes_are_refused() {
        XCTAssertNil(Namespace("a\u{0}b"))
        XCTAssertNil(Namespace("a\nb"))
        XCTAssertNil(Namespace("a\u{7f}"))
        // What bytes that are not UTF-8 decode to: two such namespaces would be one.
        XCTAssertNil(Namespace("\u{FFFD}"))
        XCTAssertNotNil(Namespace("ünïcode ok"))
    }

    func test_a_namespace_keeps_its_uploads_and_links_in_its_own_directory() {
        let namespace = Namespace("team/a")!
        let digest = Digest("sha256:" + String(repeating: "ab", count: 32))!
        XCTAssertEqual(StoragePath.uploads(.namespace(namespace)).relative, "kraken/namespaces/team%2Fa/_uploads")
        XCTAssertEqual(StoragePath.upload(.namespace(namespace), id: "u1").relative, "kraken/namespaces/team%2Fa/_uploads/u1")
        XCTAssertEqual(StoragePath.namespaceLink(namespace, digest).relative,
                       "kraken/namespaces/team%2Fa/sha256/\(String(repeating: "ab", count: 32))/link")
        XCTAssertNotEqual(StoragePath.uploads(.namespace(Namespace("team/b")!)).relative,
                          StoragePath.uploads(.namespace(namespace)).relative)
    }
}
