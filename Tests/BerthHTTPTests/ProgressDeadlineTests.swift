@testable import BerthHTTP
import XCTest

/// The progress deadline as a pure value: bytes moved and time in, a verdict out.
final class ProgressDeadlineTests: XCTestCase {
    let rule = ProgressRule(windowMilliseconds: 10_000, minimumBytes: 1000)

    func test_the_first_look_arms_the_deadline_and_is_on_time() {
        var deadline = ProgressDeadline()
        XCTAssertEqual(deadline.observe(moved: 0, remaining: nil, now: 5000, rule: rule), .onTime)
        XCTAssertEqual(deadline.state, .armed(since: 5000, moved: 0, quota: 1000))
    }

    func test_a_peer_that_moves_nothing_expires_when_the_window_has_passed() {
        var deadline = ProgressDeadline()
        _ = deadline.observe(moved: 0, remaining: nil, now: 0, rule: rule)
        XCTAssertEqual(deadline.observe(moved: 0, remaining: nil, now: 9999, rule: rule), .onTime)
        XCTAssertEqual(deadline.observe(moved: 0, remaining: nil, now: 10_000, rule: rule), .expired)
    }

    func test_a_trickle_below_the_minimum_expires_although_bytes_keep_moving() {
        var deadline = ProgressDeadline()
        _ = deadline.observe(moved: 0, remaining: nil, now: 0, rule: rule)
        var verdict = ProgressDeadline.Verdict.onTime
        for second in 1...10 { verdict = deadline.observe(moved: Int64(second * 10), remaining: nil, now: UInt64(second * 1000), rule: rule) }
        XCTAssertEqual(verdict, .expired)
    }

    func test_each_quota_moved_rearms_the_window() {
        var deadline = ProgressDeadline()
        _ = deadline.observe(moved: 0, remaining: nil, now: 0, rule: rule)
        XCTAssertEqual(deadline.observe(moved: 1000, remaining: nil, now: 9000, rule: rule), .onTime)
        XCTAssertEqual(deadline.state, .armed(since: 9000, moved: 1000, quota: 1000))
        XCTAssertEqual(deadline.observe(moved: 1999, remaining: nil, now: 18_999, rule: rule), .onTime)
        XCTAssertEqual(deadline.observe(moved: 1999, remaining: nil, now: 19_000, rule: rule), .expired)
    }

    func test_a_slow_peer_at_the_minimum_rate_goes_on_for_ever() {
        var deadline = ProgressDeadline()
        for second in 0...600 {
            XCTAssertEqual(deadline.observe(moved: Int64(second * 100), remaining: nil, now: UInt64(second * 1000), rule: rule), .onTime)
        }
    }

    func test_a_small_rest_must_arrive_whole_within_one_window() {
        var deadline = ProgressDeadline()
        _ = deadline.observe(moved: 0, remaining: 5, now: 0, rule: rule)
        XCTAssertEqual(deadline.state, .armed(since: 0, moved: 0, quota: 5))
        XCTAssertEqual(deadline.observe(moved: 4, remaining: 1, now: 10_000, rule: rule), .expired)
        var whole = ProgressDeadline()
        _ = whole.observe(moved: 0, remaining: 5, now: 0, rule: rule)
        XCTAssertEqual(whole.observe(moved: 5, remaining: 0, now: 9000, rule: rule), .onTime)
    }

    func test_disarming_starts_a_fresh_window_at_the_next_look() {
        var deadline = ProgressDeadline()
        _ = deadline.observe(moved: 0, remaining: nil, now: 0, rule: rule)
        deadline.disarm()
        XCTAssertEqual(deadline.state, .disarmed)
        XCTAssertEqual(deadline.observe(moved: 0, remaining: nil, now: 50_000, rule: rule), .onTime)
        XCTAssertEqual(deadline.observe(moved: 0, remaining: nil, now: 59_999, rule: rule), .onTime)
        XCTAssertEqual(deadline.observe(moved: 0, remaining: nil, now: 60_000, rule: rule), .expired)
    }

    func test_the_default_rule_tolerates_a_slow_wan_link() {
        let rule = ProgressRule()
        XCTAssertEqual(rule.windowMilliseconds, 120_000)
        XCTAssertEqual(rule.minimumBytes, 64 * 1024)
        // 1 KiB/s, an eighth of a 64 kbit/s line, for an hour: never cut.
        var deadline = ProgressDeadline()
        for second in 0...3600 {
            XCTAssertEqual(deadline.observe(moved: Int64(second * 1024), remaining: nil, now: UInt64(second * 1000), rule: rule), .onTime)
        }
    }
}
