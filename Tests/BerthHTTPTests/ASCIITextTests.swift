@testable import BerthHTTP
import XCTest

/// The byte comparisons requests go through (header names, path prefixes): hostile and odd inputs included.
final class ASCIITextTests: XCTestCase {
    func test_header_names_compare_ignoring_ascii_case_only() {
        XCTAssertTrue(asciiEqualIgnoringCase("Content-Length", "content-LENGTH"))
        XCTAssertTrue(asciiEqualIgnoringCase("", ""))
        XCTAssertFalse(asciiEqualIgnoringCase("Content-Length", "Content-Lengt"))
        XCTAssertFalse(asciiEqualIgnoringCase("", "a"))
        // Only ASCII letters fold: "[" (0x5b) is not "{" (0x7b), and non-ASCII bytes never fold.
        XCTAssertFalse(asciiEqualIgnoringCase("[", "{"))
        XCTAssertFalse(asciiEqualIgnoringCase("\u{c9}", "\u{e9}"))
        let long = String(repeating: "X-Header-", count: 10_000)
        XCTAssertTrue(asciiEqualIgnoringCase(long, long.lowercased()))
        XCTAssertFalse(asciiEqualIgnoringCase(long, long.lowercased() + "x"))
    }

    func test_byte_prefixes_of_slices() {
        let target = "/namespace/a/blobs/sha256:00?x=1"
        let path = target[..<target.firstIndex(of: "?")!]
        XCTAssertTrue(path.hasBytePrefix("/namespace/"))
        XCTAssertTrue(path.hasBytePrefix(""))
        XCTAssertFalse(path.hasBytePrefix("/namespaces/"))
        XCTAssertFalse(path.dropFirst(1).hasBytePrefix("/namespace/"))
        XCTAssertFalse("/ui"[...].hasBytePrefix("/ui/"))
        XCTAssertFalse(""[...].hasBytePrefix("/"))
        // A byte prefix, not a Character one: "e" followed by a combining accent still starts with "e".
        XCTAssertTrue("e\u{301}x"[...].hasBytePrefix("e"))
        XCTAssertTrue(String(repeating: "/", count: 100_000)[...].hasBytePrefix(String(repeating: "/", count: 99_999)))
    }
}
