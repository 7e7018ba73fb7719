@testable import BerthSupervisor
import XCTest

final class WorkerRestartPolicyTests: XCTestCase {
    func test_a_worker_that_dies_after_it_is_ready_is_always_restarted_with_a_growing_pause() {
        var policy = WorkerRestartPolicy()
        var now: UInt64 = 0
        var delays: [UInt64] = []
        for _ in 0..<100 {
            policy.ready(0, at: now)
            now += 10
            guard case .restart(let delay) = policy.exited(0, at: now) else { return XCTFail("gave up on a worker that served") }
            delays.append(delay)
            now += delay
        }
        XCTAssertEqual(Array(delays.prefix(8)), [100, 200, 400, 800, 1600, 3200, 5000, 5000])
        XCTAssertEqual(delays.last, 5000)
    }

    func test_the_pause_starts_over_after_a_stable_period() {
        var policy = WorkerRestartPolicy()
        policy.ready(1, at: 0)
        XCTAssertEqual(policy.exited(1, at: 10), .restart(afterMilliseconds: 100))
        policy.ready(1, at: 200)
        XCTAssertEqual(policy.exited(1, at: 210), .restart(afterMilliseconds: 200))
        policy.ready(1, at: 500)
        XCTAssertEqual(policy.exited(1, at: 500 + WorkerRestartPolicy.stableMilliseconds), .restart(afterMilliseconds: 100))
        policy.ready(1, at: 100_000)
        XCTAssertEqual(policy.exited(1, at: 100_001), .restart(afterMilliseconds: 200))
    }

    func test_pauses_are_kept_per_worker() {
        var policy = WorkerRestartPolicy()
        policy.ready(0, at: 0)
        policy.ready(1, at: 0)
        XCTAssertEqual(policy.exited(0, at: 1), .restart(afterMilliseconds: 100))
        policy.ready(0, at: 2)
        XCTAssertEqual(policy.exited(0, at: 3), .restart(afterMilliseconds: 200))
        XCTAssertEqual(policy.exited(1, at: 4), .restart(afterMilliseconds: 100))
    }

    func test_workers_that_never_become_ready_make_it_give_up() {
        var policy = WorkerRestartPolicy()
        var decisions: [WorkerRestartPolicy.Decision] = []
        for attempt in 0..<WorkerRestartPolicy.startFailureLimit { decisions.append(policy.exited(attempt % 2, at: UInt64(attempt))) }
        XCTAssertEqual(decisions.dropLast(), [.restart(afterMilliseconds: 100), .restart(afterMilliseconds: 100),
                                              .restart(afterMilliseconds: 200), .restart(afterMilliseconds: 200)])
        XCTAssertEqual(decisions.last, .giveUp)
    }

    func test_start_failures_while_another_worker_serves_are_retried() {
        var policy = WorkerRestartPolicy()
        policy.ready(0, at: 0)
        for attempt in 0..<50 {
            guard case .restart = policy.exited(1, at: UInt64(attempt)) else { return XCTFail("gave up while worker 0 serves") }
        }
        XCTAssertEqual(policy.servingWorkers, 1)
    }

    func test_a_worker_becoming_ready_clears_the_start_failures() {
        var policy = WorkerRestartPolicy()
        for attempt in 0..<(WorkerRestartPolicy.startFailureLimit - 1) { _ = policy.exited(0, at: UInt64(attempt)) }
        policy.ready(0, at: 10)
        _ = policy.exited(0, at: 11)
        for attempt in 0..<(WorkerRestartPolicy.startFailureLimit - 1) {
            guard case .restart = policy.exited(0, at: UInt64(20 + attempt)) else { return XCTFail("the count was not cleared") }
        }
        XCTAssertEqual(policy.exited(0, at: 30), .giveUp)
    }
}
