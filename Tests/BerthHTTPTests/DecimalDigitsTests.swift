@testable import BerthHTTP
import XCTest

final class DecimalDigitsTests: XCTestCase {
    func test_plain_digits_are_a_value() {
        XCTAssertEqual(DecimalDigits.parse("0"), .value(0))
        XCTAssertEqual(DecimalDigits.parse("007"), .value(7))
        XCTAssertEqual(DecimalDigits.parse("9223372036854775807"), .value(Int64.max))
    }

    func test_numbers_past_int64_max_are_too_large_not_a_trap() {
        XCTAssertEqual(DecimalDigits.parse("9223372036854775808"), .tooLarge)
        XCTAssertEqual(DecimalDigits.parse("99999999999999999999"), .tooLarge)
        XCTAssertEqual(DecimalDigits.parse(String(repeating: "9", count: 400)), .tooLarge)
        XCTAssertNil(DecimalDigits.int64("18446744073709551615"))
    }

    func test_signs_spaces_and_other_characters_are_not_numbers() {
        for text in ["", "-1", "+5", " 5", "5 ", "1e3", "0x10", "١٢", "5-", "-"] {
            XCTAssertNil(DecimalDigits.parse(text), text)
        }
    }
}
