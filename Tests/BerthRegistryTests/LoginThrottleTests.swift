@testable import BerthRegistry
import XCTest

/// N failed logins from an address within a window, then 429 until the window is over; logins under way count.
final class LoginThrottleTests: XCTestCase {
    private func fail(_ throttle: inout LoginThrottle<String>, _ address: String, times: Int, at now: UInt64) {
        for _ in 0..<times {
            XCTAssertEqual(throttle.attempt(address, now: now), .allowed)
            throttle.ended(address, failed: true, now: now)
        }
    }

    func test_the_limit_th_failure_within_the_window_throttles_until_the_window_ends() {
        var throttle = LoginThrottle<String>(limit: 3, window: 60_000)
        fail(&throttle, "a", times: 2, at: 1000)
        fail(&throttle, "a", times: 1, at: 20_000)
        XCTAssertEqual(throttle.attempt("a", now: 20_000), .throttled(retryAfterSeconds: 41), "the window began at the first failure, at 1 s")
        XCTAssertEqual(throttle.attempt("a", now: 60_500), .throttled(retryAfterSeconds: 1))
        XCTAssertEqual(throttle.attempt("a", now: 61_000), .allowed, "a new window")
        throttle.ended("a", failed: true, now: 61_000)
        XCTAssertEqual(throttle.attempt("a", now: 61_000), .allowed, "one failure in the new window")
    }

    func test_another_address_is_not_throttled() {
        var throttle = LoginThrottle<String>(limit: 2, window: 60_000)
        fail(&throttle, "a", times: 2, at: 0)
        XCTAssertEqual(throttle.attempt("a", now: 1), .throttled(retryAfterSeconds: 60))
        XCTAssertEqual(throttle.attempt("b", now: 1), .allowed)
    }

    func test_successes_count_nothing_and_leave_nothing_behind() {
        var throttle = LoginThrottle<String>(limit: 2, window: 60_000)
        for _ in 0..<10 {
            XCTAssertEqual(throttle.attempt("a", now: 0), .allowed)
            throttle.ended("a", failed: false, now: 0)
        }
        XCTAssertEqual(throttle.followed, 0)
        fail(&throttle, "a", times: 1, at: 0)
        XCTAssertEqual(throttle.attempt("a", now: 0), .allowed)
        throttle.ended("a", failed: false, now: 0)
        XCTAssertEqual(throttle.followed, 1, "a success does not wipe the failure before it")
    }

    func test_logins_under_way_count_so_a_parallel_burst_cannot_pass_the_limit() {
        var throttle = LoginThrottle<String>(limit: 3, window: 60_000)
        XCTAssertEqual(throttle.attempt("a", now: 0), .allowed)
        XCTAssertEqual(throttle.attempt("a", now: 0), .allowed)
        XCTAssertEqual(throttle.attempt("a", now: 0), .allowed)
        XCTAssertEqual(throttle.attempt("a", now: 0), .throttled(retryAfterSeconds: 60))
        throttle.ended("a", failed: false, now: 10)
        XCTAssertEqual(throttle.attempt("a", now: 10), .allowed, "one ended well: room for one more")
    }

    func test_the_table_is_bounded_ended_windows_go_first_then_the_oldest() {
        var throttle = LoginThrottle<String>(limit: 2, window: 1000, capacity: 3)
        fail(&throttle, "a", times: 1, at: 0)
        fail(&throttle, "b", times: 1, at: 100)
        fail(&throttle, "c", times: 2, at: 1500)
        XCTAssertEqual(throttle.followed, 3)
        fail(&throttle, "d", times: 1, at: 1550)
        XCTAssertEqual(throttle.followed, 2, "a's and b's windows had ended")
        fail(&throttle, "e", times: 1, at: 1600)
        fail(&throttle, "f", times: 1, at: 1700)
        XCTAssertEqual(throttle.followed, 3)
        XCTAssertEqual(throttle.attempt("f", now: 1700), .allowed)
        throttle.ended("f", failed: false, now: 1700)
        XCTAssertEqual(throttle.attempt("c", now: 1700), .allowed, "c's window, the oldest, made room for f")
    }

    func test_a_full_table_of_logins_under_way_throttles_a_new_address() {
        var throttle = LoginThrottle<String>(limit: 5, window: 1000, capacity: 2)
        XCTAssertEqual(throttle.attempt("a", now: 0), .allowed)
        XCTAssertEqual(throttle.attempt("b", now: 0), .allowed)
        XCTAssertEqual(throttle.attempt("c", now: 0), .throttled(retryAfterSeconds: 1))
    }
}
