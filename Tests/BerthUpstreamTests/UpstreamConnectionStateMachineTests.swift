@testable import BerthUpstream
import XCTest

/// The upstream connection's state machine without a socket: opening, one exchange at a time, the pool,
/// and what its one timer means in each state.
final class UpstreamConnectionStateMachineTests: XCTestCase {
    typealias Machine = UpstreamConnectionStateMachine

    private func machine(now: UInt64 = 0) -> Machine {
        Machine(now: now, timeouts: .init(connectMilliseconds: 1_000, readMilliseconds: 5_000, idleMilliseconds: 3_000))
    }

    private func exchanging(now: UInt64 = 0) -> Machine {
        var machine = machine(now: now)
        machine.connecting()
        _ = machine.begin(now: now)
        return machine
    }

    // MARK: Opening

    func test_a_connection_still_opening_when_the_timer_fires_timed_out_connecting() {
        for step in [{ (m: inout Machine) in m.resolving() }, { $0.connecting() }, { $0.handshaking() }] {
            var machine = machine()
            step(&machine)
            XCTAssertEqual(machine.timerFired(now: 1_000, exchangePaused: false), .connectTimedOut)
        }
    }

    func test_the_peer_closing_during_the_handshake_fails_the_handshake() {
        var machine = machine()
        machine.handshaking()
        XCTAssertEqual(machine.peerEnded(responseStarted: false), .failHandshake)
    }

    // MARK: Exchanges

    func test_a_kept_alive_response_read_exactly_returns_the_connection_to_the_pool() {
        var machine = exchanging()
        XCTAssertEqual(machine.requestSent(ok: true, responseStarted: false, now: 10), .none)
        XCTAssertTrue(machine.responseComplete(keepAlive: true, bytesLeftOver: false))
        XCTAssertEqual(machine.exchangesCompleted, 1)
        XCTAssertEqual(machine.parked(now: 20), 3_000)
        XCTAssertEqual(machine.state, .idle)
    }

    func test_a_response_with_bytes_after_it_or_a_close_or_an_unsent_request_is_not_reused() {
        var extra = exchanging()
        _ = extra.requestSent(ok: true, responseStarted: false, now: 0)
        XCTAssertFalse(extra.responseComplete(keepAlive: true, bytesLeftOver: true))

        var closing = exchanging()
        _ = closing.requestSent(ok: true, responseStarted: false, now: 0)
        XCTAssertFalse(closing.responseComplete(keepAlive: false, bytesLeftOver: false))

        var early = exchanging()
        XCTAssertFalse(early.responseComplete(keepAlive: true, bytesLeftOver: false),
                       "an answer that came before the request was all written leaves the request's rest in the socket")
        XCTAssertEqual(early.exchangesCompleted, 1)
    }

    func test_a_request_the_socket_refused_fails_unless_an_answer_is_on_its_way() {
        var silent = exchanging()
        XCTAssertEqual(silent.requestSent(ok: false, responseStarted: false, now: 0), .fail("while the request was being sent"))
        var answered = exchanging()
        XCTAssertEqual(answered.requestSent(ok: false, responseStarted: true, now: 0), .none,
                       "an early answer (a 413, say) is still read to its end")
    }

    func test_bytes_on_a_parked_connection_close_it() {
        var machine = exchanging()
        XCTAssertEqual(machine.bytesArrived(), .deliver)
        _ = machine.responseComplete(keepAlive: true, bytesLeftOver: false)
        _ = machine.parked(now: 0)
        XCTAssertEqual(machine.bytesArrived(), .close)
    }

    func test_the_peer_closing_before_an_answer_fails_and_during_one_asks_the_parser() {
        let machine = exchanging()
        XCTAssertEqual(machine.peerEnded(responseStarted: false), .failBeforeAnswer)
        XCTAssertEqual(machine.peerEnded(responseStarted: true), .finishResponse)
    }

    // MARK: Timer

    func test_the_read_timeout_counts_from_the_last_bytes_and_rearms_for_the_rest() {
        var machine = exchanging(now: 0)
        machine.bytesMoved(now: 4_000)
        XCTAssertEqual(machine.timerFired(now: 5_000, exchangePaused: false), .rearm(4_000))
        XCTAssertEqual(machine.timerFired(now: 9_000, exchangePaused: false), .readTimedOut)
    }

    func test_a_paused_exchange_does_not_time_out() {
        var machine = exchanging(now: 0)
        XCTAssertEqual(machine.timerFired(now: 50_000, exchangePaused: true), .rearm(5_000))
        XCTAssertEqual(machine.timerFired(now: 54_000, exchangePaused: false), .rearm(1_000),
                       "the window starts when the pause is seen")
    }

    func test_a_parked_connection_closes_after_the_idle_limit() {
        var machine = exchanging()
        _ = machine.responseComplete(keepAlive: true, bytesLeftOver: false)
        XCTAssertEqual(machine.parked(now: 100), 3_000)
        XCTAssertEqual(machine.timerFired(now: 2_100, exchangePaused: false), .rearm(1_000))
        XCTAssertEqual(machine.timerFired(now: 3_100, exchangePaused: false), .close)
    }

    // MARK: Closing

    func test_close_happens_once_and_a_closed_connection_ignores_its_timer_and_bytes() {
        var machine = exchanging()
        XCTAssertTrue(machine.close())
        XCTAssertFalse(machine.close())
        XCTAssertEqual(machine.timerFired(now: 100_000, exchangePaused: false), .none)
        XCTAssertEqual(machine.bytesArrived(), .ignore)
        XCTAssertEqual(machine.peerEnded(responseStarted: true), .close)
    }
}
