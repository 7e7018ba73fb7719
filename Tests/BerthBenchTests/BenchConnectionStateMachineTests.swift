import XCTest
@testable import BerthBench

final class BenchConnectionStateMachineTests: XCTestCase {
    func test_a_kept_alive_connection_issues_one_request_after_another() {
        var machine = BenchConnectionStateMachine()
        XCTAssertEqual(machine.connected(ok: true), .issueNext)
        XCTAssertEqual(machine.issued(true), BenchConnectionStateMachine.Action.none)
        XCTAssertEqual(machine.state, .awaitingResponse)
        XCTAssertEqual(machine.responseComplete(keepAlive: true), .deliverResponse(reconnect: false))
        XCTAssertEqual(machine.state, .idle)
        XCTAssertEqual(machine.issued(false), .close)
        XCTAssertEqual(machine.state, .closed)
        XCTAssertFalse(machine.socketClosed(), "closed for good")
    }

    func test_a_server_that_ends_keep_alive_gets_a_new_connection_and_no_error() {
        var machine = BenchConnectionStateMachine()
        _ = machine.connected(ok: true)
        _ = machine.issued(true)
        XCTAssertEqual(machine.responseComplete(keepAlive: false), .deliverResponse(reconnect: true))
        XCTAssertEqual(machine.streamEnded(), BenchConnectionStateMachine.Action.none, "our own close is no failure")
        XCTAssertTrue(machine.socketClosed())
        XCTAssertEqual(machine.state, .connecting)
        XCTAssertEqual(machine.connected(ok: true), .issueNext)
    }

    func test_a_request_cut_off_fails_and_the_connection_reopens() {
        var machine = BenchConnectionStateMachine()
        _ = machine.connected(ok: true)
        _ = machine.issued(true)
        XCTAssertEqual(machine.streamEnded(), .failRequest)
        XCTAssertEqual(machine.responseComplete(keepAlive: true), BenchConnectionStateMachine.Action.none, "nothing after the failure")
        XCTAssertTrue(machine.socketClosed())
    }

    func test_an_idle_connection_dropped_by_the_server_reopens_without_a_failure() {
        var machine = BenchConnectionStateMachine()
        _ = machine.connected(ok: true)
        XCTAssertEqual(machine.streamEnded(), .reconnect)
        XCTAssertTrue(machine.socketClosed())
    }

    func test_a_refused_connect_gives_the_connection_up() {
        var machine = BenchConnectionStateMachine()
        XCTAssertEqual(machine.connected(ok: false), .giveUp)
        XCTAssertFalse(machine.socketClosed())
        XCTAssertEqual(machine.state, .closed)
    }

    func test_a_timeout_fails_the_request_in_flight_or_gives_up_a_hanging_connect_and_leaves_the_rest_alone() {
        var waiting = BenchConnectionStateMachine()
        _ = waiting.connected(ok: true)
        _ = waiting.issued(true)
        XCTAssertEqual(waiting.timedOut(), .failRequest)
        XCTAssertEqual(waiting.state, .reconnecting)
        XCTAssertEqual(waiting.timedOut(), BenchConnectionStateMachine.Action.none, "already closing")
        var connecting = BenchConnectionStateMachine()
        XCTAssertEqual(connecting.timedOut(), .giveUp)
        XCTAssertEqual(connecting.state, .closed)
        var idle = BenchConnectionStateMachine()
        _ = idle.connected(ok: true)
        XCTAssertEqual(idle.timedOut(), BenchConnectionStateMachine.Action.none)
        XCTAssertEqual(idle.state, .idle)
    }

    func test_a_request_answered_with_a_challenge_waits_for_its_token_then_goes_again() {
        var machine = BenchConnectionStateMachine()
        _ = machine.connected(ok: true)
        _ = machine.issued(true)
        XCTAssertEqual(machine.responseComplete(keepAlive: true), .deliverResponse(reconnect: false))
        XCTAssertEqual(machine.park(), BenchConnectionStateMachine.Action.none)
        XCTAssertEqual(machine.state, .parked)
        XCTAssertEqual(machine.timedOut(), BenchConnectionStateMachine.Action.none, "the token request has its own timeout")
        XCTAssertEqual(machine.issued(true), BenchConnectionStateMachine.Action.none, "nothing is sent while it waits")
        XCTAssertEqual(machine.resume(), .issueNext)
        XCTAssertEqual(machine.state, .idle)
        XCTAssertEqual(machine.resume(), BenchConnectionStateMachine.Action.none, "a token that came at once changes nothing")
    }

    func test_a_connection_the_server_closes_while_it_waits_for_a_token_reopens_without_an_error() {
        var machine = BenchConnectionStateMachine()
        _ = machine.connected(ok: true)
        _ = machine.park()
        XCTAssertEqual(machine.streamEnded(), .reconnect)
        XCTAssertTrue(machine.socketClosed())
        XCTAssertEqual(machine.resume(), BenchConnectionStateMachine.Action.none)
        XCTAssertEqual(machine.connected(ok: true), .issueNext)
    }
}
