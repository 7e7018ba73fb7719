@testable import BerthRegistry
import XCTest

/// The Content-Range of an upload chunk (PATCH), in the forms registry clients send.
final class ContentRangeTests: XCTestCase {
    func test_content_range_accepts_the_registry_forms() {
        XCTAssertEqual(ContentRange.chunk("0-99"), 0...99)
        XCTAssertEqual(ContentRange.chunk("bytes 100-199/*"), 100...199)
        XCTAssertNil(ContentRange.chunk("5-1"))
        XCTAssertNil(ContentRange.chunk("x-y"))
        XCTAssertNil(ContentRange.chunk("10"))
    }
}
