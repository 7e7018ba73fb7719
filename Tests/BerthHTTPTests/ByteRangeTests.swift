@testable import BerthHTTP
import XCTest

final class ByteRangeTests: XCTestCase {
    func test_closed_range_is_clamped_to_the_size() {
        XCTAssertEqual(ByteRange.resolve("bytes=0-9", size: 100), .satisfiable(first: 0, last: 9))
        XCTAssertEqual(ByteRange.resolve("bytes=90-200", size: 100), .satisfiable(first: 90, last: 99))
    }

    func test_open_range_runs_to_the_end() {
        XCTAssertEqual(ByteRange.resolve("bytes=10-", size: 100), .satisfiable(first: 10, last: 99))
    }

    func test_suffix_range_takes_the_last_bytes() {
        XCTAssertEqual(ByteRange.resolve("bytes=-10", size: 100), .satisfiable(first: 90, last: 99))
        XCTAssertEqual(ByteRange.resolve("bytes=-500", size: 100), .satisfiable(first: 0, last: 99))
    }

    func test_start_past_the_end_is_unsatisfiable() {
        XCTAssertEqual(ByteRange.resolve("bytes=100-", size: 100), .unsatisfiable)
        XCTAssertEqual(ByteRange.resolve("bytes=-0", size: 100), .unsatisfiable)
        XCTAssertEqual(ByteRange.resolve("bytes=0-", size: 0), .unsatisfiable)
    }

    func test_multiple_ranges_other_units_and_garbage_are_ignored() {
        XCTAssertEqual(ByteRange.resolve("bytes=0-1,5-6", size: 100), .ignored)
        XCTAssertEqual(ByteRange.resolve("items=0-1", size: 100), .ignored)
        XCTAssertEqual(ByteRange.resolve("bytes=9-3", size: 100), .ignored)
        XCTAssertEqual(ByteRange.resolve("bytes=a-b", size: 100), .ignored)
    }

    func test_hostile_numbers_neither_trap_nor_pass_as_ranges() {
        let max = Int64.max
        XCTAssertEqual(ByteRange.resolve("bytes=0-9223372036854775807", size: 100), .satisfiable(first: 0, last: 99))
        XCTAssertEqual(ByteRange.resolve("bytes=0-99999999999999999999", size: 100), .satisfiable(first: 0, last: 99))
        XCTAssertEqual(ByteRange.resolve("bytes=-9223372036854775807", size: 100), .satisfiable(first: 0, last: 99))
        XCTAssertEqual(ByteRange.resolve("bytes=-99999999999999999999", size: 100), .satisfiable(first: 0, last: 99))
        XCTAssertEqual(ByteRange.resolve("bytes=9223372036854775807-", size: 100), .unsatisfiable)
        XCTAssertEqual(ByteRange.resolve("bytes=99999999999999999999-", size: 100), .unsatisfiable)
        XCTAssertEqual(ByteRange.resolve("bytes=9223372036854775806-9223372036854775807", size: max), .satisfiable(first: max - 1, last: max - 1))
        XCTAssertEqual(ByteRange.resolve("bytes=-1", size: max), .satisfiable(first: max - 1, last: max - 1))
        XCTAssertEqual(ByteRange.resolve("bytes=--1", size: 100), .ignored)
        XCTAssertEqual(ByteRange.resolve("bytes=-1-5", size: 100), .ignored)
        XCTAssertEqual(ByteRange.resolve("bytes=+1-5", size: 100), .ignored)
        XCTAssertEqual(ByteRange.resolve("bytes=1-+5", size: 100), .ignored)
        XCTAssertEqual(ByteRange.resolve("bytes=-", size: 100), .ignored)
    }
}
