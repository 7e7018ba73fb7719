@testable import BerthSupervisor
import XCTest

final class WorkerGenerationsTests: XCTestCase {
    func test_the_old_generation_is_retired_only_once_every_new_worker_is_ready() {
        var generations = WorkerGenerations()
        XCTAssertEqual(generations.reloadRequested(), [.prepareReload])
        XCTAssertEqual(generations.starting(count: 2), 1)
        XCTAssertEqual(generations.ready(generation: 1, index: 0), [])
        XCTAssertEqual(generations.ready(generation: 1, index: 0), [], "the same worker twice is not two workers")
        XCTAssertEqual(generations.serving, 0)
        XCTAssertEqual(generations.ready(generation: 1, index: 1), [.retireAllBut(serving: 1)])
        XCTAssertEqual(generations.serving, 1)
        XCTAssertFalse(generations.isStarting)
        // The retired workers exit as they finish draining: nothing to do.
        XCTAssertEqual(generations.exited(generation: 0), [])
    }

    func test_a_new_worker_that_exits_before_its_generation_serves_abandons_the_reload() {
        var generations = WorkerGenerations()
        _ = generations.reloadRequested()
        XCTAssertEqual(generations.starting(count: 2), 1)
        XCTAssertEqual(generations.ready(generation: 1, index: 1), [])
        XCTAssertEqual(generations.exited(generation: 1), [.abandon(generation: 1)])
        XCTAssertEqual(generations.serving, 0)
        // Its other workers, stopped, exit later; a late ready from the abandoned generation changes nothing.
        XCTAssertEqual(generations.exited(generation: 1), [])
        XCTAssertEqual(generations.ready(generation: 1, index: 0), [])
        // The next reload has a new number, so the abandoned generation's stragglers are never taken for it.
        XCTAssertEqual(generations.reloadRequested(), [.prepareReload])
        XCTAssertEqual(generations.starting(count: 1), 2)
        XCTAssertEqual(generations.exited(generation: 1), [])
        XCTAssertEqual(generations.ready(generation: 2, index: 0), [.retireAllBut(serving: 2)])
    }

    func test_a_reload_asked_for_while_one_is_starting_runs_once_after_it() {
        var generations = WorkerGenerations()
        _ = generations.reloadRequested()
        _ = generations.starting(count: 1)
        XCTAssertEqual(generations.reloadRequested(), [])
        XCTAssertEqual(generations.reloadRequested(), [])
        XCTAssertEqual(generations.ready(generation: 1, index: 0), [.retireAllBut(serving: 1), .prepareReload])
        _ = generations.starting(count: 1)
        XCTAssertEqual(generations.ready(generation: 2, index: 0), [.retireAllBut(serving: 2)], "asked twice, run once")
        // And after an abandoned one too.
        _ = generations.reloadRequested()
        _ = generations.starting(count: 1)
        XCTAssertEqual(generations.reloadRequested(), [])
        XCTAssertEqual(generations.exited(generation: 3), [.abandon(generation: 3), .prepareReload])
    }

    func test_a_configuration_that_does_not_load_leaves_nothing_pending() {
        var generations = WorkerGenerations()
        XCTAssertEqual(generations.reloadRequested(), [.prepareReload]) // the caller refuses: starting(count:) is never called
        XCTAssertFalse(generations.isStarting)
        XCTAssertEqual(generations.reloadRequested(), [.prepareReload])
        XCTAssertEqual(generations.next, 1)
    }
}
