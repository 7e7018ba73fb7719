@testable import BerthStorage
import XCTest

final class UploadStateMachineTests: XCTestCase {
    let digest = Digest("sha256:" + String(repeating: "a", count: 64))!
    let other = Digest("sha256:" + String(repeating: "b", count: 64))!

    func test_chunk_at_the_current_offset_is_appended() {
        var machine = UploadStateMachine(offset: 0)
        XCTAssertEqual(machine.chunk(range: 0...9, declaredLength: 10), .append(at: 0))
        machine.received(10)
        XCTAssertEqual(machine.chunk(range: 10...19, declaredLength: nil), .append(at: 10))
        XCTAssertEqual(machine.chunk(range: nil, declaredLength: nil), .append(at: 10))
    }

    func test_out_of_order_chunk_is_refused_with_the_current_offset() {
        var machine = UploadStateMachine(offset: 0)
        machine.received(10)
        XCTAssertEqual(machine.chunk(range: 20...29, declaredLength: 10), .reject(.rangeNotSatisfiable(current: 10)))
        XCTAssertEqual(machine.chunk(range: 0...9, declaredLength: 10), .reject(.rangeNotSatisfiable(current: 10)))
        XCTAssertEqual(machine.state, .receiving(offset: 10))
    }

    func test_range_and_length_must_agree() {
        let machine = UploadStateMachine(offset: 0)
        XCTAssertEqual(machine.chunk(range: 0...9, declaredLength: 5), .reject(.lengthMismatch(range: 10, declared: 5)))
    }

    func test_a_range_longer_than_any_file_is_refused_without_trapping() {
        let machine = UploadStateMachine(offset: 0)
        XCTAssertEqual(machine.chunk(range: 0...Int64.max, declaredLength: 10), .reject(.rangeNotSatisfiable(current: 0)))
        XCTAssertEqual(machine.chunk(range: 0...Int64.max, declaredLength: nil), .reject(.rangeNotSatisfiable(current: 0)))
        XCTAssertEqual(machine.chunk(range: 0...(Int64.max - 1), declaredLength: Int64.max), .append(at: 0))
        XCTAssertEqual(UploadStateMachine(offset: -1).chunk(range: -1...Int64.max, declaredLength: nil), .reject(.rangeNotSatisfiable(current: -1)))
        XCTAssertEqual(machine.state, .receiving(offset: 0))
    }

    func test_matching_digest_commits() {
        var machine = UploadStateMachine(offset: 0)
        machine.received(42)
        XCTAssertEqual(machine.complete(expected: digest), .commit(expected: digest, size: 42))
        XCTAssertNil(machine.verified(digest, expected: digest))
        XCTAssertEqual(machine.state, .committed(digest))
        XCTAssertEqual(machine.chunk(range: nil, declaredLength: nil), .reject(.notReceiving))
    }

    func test_mismatching_digest_discards_the_upload() {
        var machine = UploadStateMachine(offset: 0)
        _ = machine.complete(expected: digest)
        XCTAssertEqual(machine.verified(other, expected: digest), .discard)
        XCTAssertEqual(machine.state, .cancelled)
    }

    func test_cancel_discards_once() {
        var machine = UploadStateMachine(offset: 3)
        XCTAssertEqual(machine.cancel(), .discard)
        XCTAssertEqual(machine.cancel(), .reject(.notReceiving))
    }
}
