@testable import BerthStorage
import XCTest

/// Kraken's chunks name bytes `start..<end` (`Content-Range: start-end`), and may be empty.
final class UploadStateMachineHalfOpenChunkTests: XCTestCase {
    func test_half_open_chunk_at_the_current_offset_is_appended() {
        var machine = UploadStateMachine(offset: 0)
        XCTAssertEqual(machine.chunk(from: 0, to: 10, declaredLength: 10), .append(at: 0))
        machine.received(10)
        XCTAssertEqual(machine.chunk(from: 10, to: 20, declaredLength: nil), .append(at: 10))
    }

    func test_an_empty_chunk_at_the_current_offset_is_accepted() {
        var machine = UploadStateMachine(offset: 0)
        machine.received(7)
        XCTAssertEqual(machine.chunk(from: 7, to: 7, declaredLength: 0), .append(at: 7))
        XCTAssertEqual(machine.chunk(from: 7, to: 7, declaredLength: 3), .reject(.lengthMismatch(range: 0, declared: 3)))
    }

    func test_half_open_chunk_elsewhere_is_refused_with_the_current_offset() {
        var machine = UploadStateMachine(offset: 0)
        machine.received(10)
        XCTAssertEqual(machine.chunk(from: 20, to: 30, declaredLength: 10), .reject(.rangeNotSatisfiable(current: 10)))
        XCTAssertEqual(machine.chunk(from: 0, to: 10, declaredLength: 10), .reject(.rangeNotSatisfiable(current: 10)))
        XCTAssertEqual(machine.state, .receiving(offset: 10))
    }

    func test_half_open_range_and_length_must_agree() {
        let machine = UploadStateMachine(offset: 0)
        XCTAssertEqual(machine.chunk(from: 0, to: 10, declaredLength: 5), .reject(.lengthMismatch(range: 10, declared: 5)))
    }

    func test_a_length_that_disagrees_with_the_range_is_named_before_a_wrong_start() {
        var machine = UploadStateMachine(offset: 0)
        machine.received(4)
        XCTAssertEqual(machine.chunk(from: 3, to: 10, declaredLength: 3), .reject(.lengthMismatch(range: 7, declared: 3)))
        // The registry's inclusive ranges answer the start first, as before.
        XCTAssertEqual(machine.chunk(range: 3...9, declaredLength: 3), .reject(.rangeNotSatisfiable(current: 4)))
    }

    func test_a_backwards_or_overflowing_half_open_range_is_refused_without_trapping() {
        let machine = UploadStateMachine(offset: 0)
        XCTAssertEqual(machine.chunk(from: 0, to: -1, declaredLength: nil), .reject(.rangeNotSatisfiable(current: 0)))
        XCTAssertEqual(UploadStateMachine(offset: Int64.min).chunk(from: Int64.min, to: Int64.max, declaredLength: nil),
                       .reject(.rangeNotSatisfiable(current: Int64.min)))
        XCTAssertEqual(machine.chunk(from: 0, to: Int64.max, declaredLength: Int64.max), .append(at: 0))
    }

    func test_a_half_open_chunk_after_the_commit_began_is_refused() {
        var machine = UploadStateMachine(offset: 0)
        machine.received(4)
        let digest = Digest("sha256:" + String(repeating: "a", count: 64))!
        _ = machine.complete(expected: digest)
        XCTAssertEqual(machine.chunk(from: 4, to: 8, declaredLength: 4), .reject(.notReceiving))
    }
}
