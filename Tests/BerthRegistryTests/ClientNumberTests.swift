@testable import BerthRegistry
import XCTest

/// Upload ranges and page sizes as hostile clients write them: each is refused or bounded, never trusted into
/// arithmetic that traps.
final class ClientNumberTests: XCTestCase {
    func test_chunk_content_range_takes_two_plain_numbers() {
        XCTAssertEqual(ContentRange.chunk("0-9"), 0...9)
        XCTAssertEqual(ContentRange.chunk("bytes 10-19/100"), 10...19)
        XCTAssertEqual(ContentRange.chunk("0-9223372036854775807"), 0...Int64.max)
        for header in ["0-99999999999999999999", "99999999999999999999-99999999999999999999", "-1-5", "0--1", "+0-5",
                       "0-", "-5", "5-4", "0-1-2", "", "a-b"] {
            XCTAssertNil(ContentRange.chunk(header), header)
        }
    }

    func test_kraken_content_range_takes_two_plain_numbers() {
        XCTAssertEqual(ContentRange.kraken("0-10")?.end, 10)
        XCTAssertEqual(ContentRange.kraken("5,10")?.start, 5)
        XCTAssertEqual(ContentRange.kraken("0-9223372036854775807")?.end, Int64.max)
        for header in ["0-99999999999999999999", "-1-5", "0--5", "0,,5", "0-5,6", "10-5", "0-", "+1-2"] {
            XCTAssertNil(ContentRange.kraken(header), header)
        }
    }

    func test_page_size_is_a_plain_number_and_any_size_is_bounded_by_the_list() throws {
        let all = ["a", "b", "c"]
        XCTAssertEqual(try Page(sorted: all, query: QueryParameters("n=2"), path: "/v2/_catalog").items, ["a", "b"])
        XCTAssertEqual(try Page(sorted: all, query: QueryParameters("n=9223372036854775807"), path: "/v2/_catalog").items, ["a", "b", "c"])
        XCTAssertEqual(try Page(sorted: all, query: QueryParameters("n=99999999999999999999&last=a"), path: "/v2/_catalog").items, ["b", "c"])
        XCTAssertEqual(try Page(sorted: all, query: QueryParameters("n=0"), path: "/v2/_catalog").items, [])
        for query in ["n=-1", "n=%2B1", "n=", "n=1e3"] {
            XCTAssertThrowsError(try Page(sorted: all, query: QueryParameters(Substring(query)), path: "/v2/_catalog"), query)
        }
    }
}
