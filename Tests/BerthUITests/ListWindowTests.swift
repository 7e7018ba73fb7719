@testable import BerthUI
import XCTest

final class ListWindowTests: XCTestCase {
    private let names = (0..<250).map { String(format: "team/app-%03d", $0) } + ["zeta/tool"]

    func test_first_page_holds_the_default_count_and_names_the_next_last() {
        let window = ListWindow(sorted: names, key: { $0 }, query: nil, last: nil, limit: nil)
        XCTAssertEqual(window.items.count, ListWindow<String>.defaultLimit)
        XCTAssertEqual(window.items.first, "team/app-000")
        XCTAssertEqual(window.nextLast, "team/app-049")
        XCTAssertEqual(window.matching, 251)
    }

    func test_last_starts_after_the_named_item_even_when_it_is_gone() {
        let window = ListWindow(sorted: names, key: { $0 }, query: nil, last: "team/app-099x", limit: "3")
        XCTAssertEqual(window.items, ["team/app-100", "team/app-101", "team/app-102"])
        let after = ListWindow(sorted: names, key: { $0 }, query: nil, last: "team/app-102", limit: "3")
        XCTAssertEqual(after.items.first, "team/app-103")
    }

    func test_the_last_page_names_no_next() {
        let window = ListWindow(sorted: names, key: { $0 }, query: nil, last: "team/app-248", limit: "5")
        XCTAssertEqual(window.items, ["team/app-249", "zeta/tool"])
        XCTAssertNil(window.nextLast)
    }

    func test_query_filters_by_substring_ignoring_case_before_paging() {
        let window = ListWindow(sorted: names, key: { $0 }, query: "APP-24", last: nil, limit: "4")
        XCTAssertEqual(window.items, ["team/app-240", "team/app-241", "team/app-242", "team/app-243"])
        XCTAssertEqual(window.matching, 10)
        XCTAssertEqual(window.nextLast, "team/app-243")
        XCTAssertEqual(ListWindow(sorted: names, key: { $0 }, query: "", last: nil, limit: nil).matching, 251)
    }

    func test_a_limit_that_does_not_parse_or_is_out_of_range_is_clamped() {
        XCTAssertEqual(ListWindow(sorted: names, key: { $0 }, query: nil, last: nil, limit: "abc").items.count, ListWindow<String>.defaultLimit)
        XCTAssertEqual(ListWindow(sorted: names, key: { $0 }, query: nil, last: nil, limit: "0").items.count, 1)
        XCTAssertEqual(ListWindow(sorted: names, key: { $0 }, query: nil, last: nil, limit: "-5").items.count, 1)
        XCTAssertEqual(ListWindow(sorted: names, key: { $0 }, query: nil, last: nil, limit: "99999999999999999999").items.count, ListWindow<String>.defaultLimit)
        XCTAssertEqual(ListWindow(sorted: names, key: { $0 }, query: nil, last: nil, limit: "5000").items.count, ListWindow<String>.maxLimit)
    }
}
