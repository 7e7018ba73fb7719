@testable import BerthHTTP
import XCTest

/// The server connection's state machine without a socket: each test is one story a client can tell.
final class HTTPConnectionStateMachineTests: XCTestCase {
    typealias Machine = HTTPConnectionStateMachine

    private var limits: HTTPLimits {
        var limits = HTTPLimits()
        limits.idleTimeoutMilliseconds = 10_000
        limits.headerTimeoutMilliseconds = 5_000
        limits.progress = ProgressRule(windowMilliseconds: 2_000, minimumBytes: 100)
        return limits
    }

    /// A request whose head has arrived (and whose handler was called).
    private func machineWithRequest(now: UInt64 = 0, draining: Bool = false) -> Machine {
        var machine = Machine(now: now)
        machine.messageBegins(now: now)
        machine.headComplete(now: now, draining: draining)
        return machine
    }

    // MARK: Pipelining

    func test_an_answer_sent_inside_the_head_callback_lets_the_next_pipelined_request_follow_at_once() {
        var machine = machineWithRequest()
        XCTAssertFalse(machine.answerStarts(keepAlive: true, draining: false, withheldBody: false))
        XCTAssertEqual(machine.answerSent(now: 1), .awaitRequestEnd)
        machine.requestEnds(now: 1)
        XCTAssertEqual(machine.requestEnded(), .next)
        XCTAssertEqual(machine.state, .idle)
        XCTAssertTrue(machine.readsInput)
    }

    func test_a_pipelined_request_waits_unparsed_until_the_answer_before_it_is_out() {
        var machine = machineWithRequest()
        machine.requestEnds(now: 1)
        XCTAssertEqual(machine.requestEnded(), .pauseParser)
        XCTAssertFalse(machine.readsInput, "pipelined input must wait while the answer is pending")
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        XCTAssertFalse(machine.readsInput)
        XCTAssertEqual(machine.answerSent(now: 2), .finishExchange)
        XCTAssertEqual(machine.state, .idle)
        XCTAssertTrue(machine.readsInput)
        XCTAssertEqual(machine.lastActivity, 2)
    }

    func test_an_answer_sent_while_the_body_ends_finishes_the_exchange_once() {
        var machine = machineWithRequest()
        machine.requestEnds(now: 1)
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        XCTAssertEqual(machine.answerSent(now: 1), .finishExchange)
        XCTAssertEqual(machine.requestEnded(), .next)
    }

    func test_a_client_that_asks_to_close_gets_connection_close_and_the_connection_closes_after_the_answer() {
        var machine = machineWithRequest()
        machine.requestEnds(now: 1)
        XCTAssertTrue(machine.answerStarts(keepAlive: false, draining: false, withheldBody: false))
        XCTAssertEqual(machine.answerSent(now: 2), .close)
        XCTAssertEqual(machine.close(), .closeNow(abortsExchange: false), "an answered exchange is not aborted")
        XCTAssertEqual(machine.close(), .alreadyClosed)
    }

    func test_an_early_answer_keeps_reading_and_discarding_the_body() {
        var machine = machineWithRequest()
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        XCTAssertTrue(machine.readsInput)
        XCTAssertEqual(machine.answerSent(now: 1), .awaitRequestEnd)
        XCTAssertTrue(machine.readsInput)
        machine.requestEnds(now: 3)
        XCTAssertEqual(machine.requestEnded(), .next)
        XCTAssertEqual(machine.lastActivity, 3)
    }

    func test_a_malformed_body_after_an_early_answer_gets_no_second_answer() {
        var machine = machineWithRequest()
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        XCTAssertEqual(machine.bodyUnreadable(), .closeAfterAnswer, "the answer going out must stay the only one")
        XCTAssertFalse(machine.readsInput)
        XCTAssertEqual(machine.tick(now: 60_000, limits: limits, body: .init(received: 0, remaining: 9), acknowledged: nil), .none)
        XCTAssertEqual(machine.answerSent(now: 2), .close)
    }

    func test_a_malformed_body_after_the_early_answer_is_out_closes_at_once() {
        var machine = machineWithRequest()
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        XCTAssertEqual(machine.answerSent(now: 1), .awaitRequestEnd)
        XCTAssertEqual(machine.bodyUnreadable(), .closeNow)
        XCTAssertEqual(machine.close(), .closeNow(abortsExchange: false))
    }

    func test_a_malformed_body_before_any_answer_is_refused() {
        var machine = machineWithRequest()
        XCTAssertEqual(machine.bodyUnreadable(), .refuse)
    }

    func test_an_answer_before_a_withheld_body_closes_the_connection() {
        var machine = machineWithRequest()
        XCTAssertTrue(machine.answerStarts(keepAlive: true, draining: false, withheldBody: true),
                      "a client waiting for 100 Continue can only be freed by closing")
        XCTAssertEqual(machine.answerSent(now: 1), .close)
    }

    // MARK: Back-pressure and the pool

    func test_a_held_body_stops_reading_until_it_is_let_go() {
        var machine = machineWithRequest()
        machine.bodyHeld(true)
        XCTAssertFalse(machine.readsInput)
        machine.bodyHeld(false)
        XCTAssertTrue(machine.readsInput)
    }

    func test_a_pool_transfer_owns_the_socket_and_defers_the_close() {
        var machine = machineWithRequest()
        machine.requestEnds(now: 0)
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        machine.transferInPool(true)
        XCTAssertTrue(machine.isTransferringInPool)
        XCTAssertEqual(machine.close(), .afterTransfer)
        XCTAssertFalse(machine.isClosed)
        machine.transferInPool(false)
        XCTAssertEqual(machine.answerSent(now: 1), .close, "the deferred close happens when the transfer ends")
    }

    // MARK: Drain on shutdown

    func test_drain_closes_an_idle_connection_at_once() {
        var machine = Machine(now: 0)
        XCTAssertTrue(machine.drain())
    }

    func test_drain_lets_the_request_in_flight_finish_then_closes() {
        var machine = machineWithRequest()
        XCTAssertFalse(machine.drain())
        machine.requestEnds(now: 1)
        XCTAssertTrue(machine.answerStarts(keepAlive: true, draining: false, withheldBody: false))
        XCTAssertEqual(machine.answerSent(now: 2), .close)
    }

    func test_a_head_completed_while_draining_is_answered_with_connection_close() {
        var machine = machineWithRequest(draining: true)
        XCTAssertTrue(machine.answerStarts(keepAlive: true, draining: false, withheldBody: false))
    }

    func test_drain_during_a_head_waits_for_its_answer() {
        var machine = Machine(now: 0)
        machine.messageBegins(now: 0)
        XCTAssertFalse(machine.drain())
        XCTAssertTrue(machine.closesAfterAnswer)
    }

    // MARK: A body cut short

    func test_a_body_cut_short_aborts_the_exchange() {
        var machine = machineWithRequest()
        XCTAssertEqual(machine.close(), .closeNow(abortsExchange: true))
        XCTAssertFalse(machine.readsInput)
    }

    func test_a_close_between_requests_aborts_nothing() {
        var machine = machineWithRequest()
        machine.requestEnds(now: 0)
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        _ = machine.answerSent(now: 1)
        XCTAssertEqual(machine.close(), .closeNow(abortsExchange: false))
    }

    func test_a_refused_head_is_answered_then_closed_and_nothing_more_is_read() {
        var machine = Machine(now: 0)
        machine.messageBegins(now: 0)
        machine.refuse()
        XCTAssertFalse(machine.readsInput)
        XCTAssertTrue(machine.answerStarts(keepAlive: true, draining: false, withheldBody: false))
        XCTAssertEqual(machine.answerSent(now: 1), .close)
    }

    // MARK: Deadlines

    func test_an_idle_connection_closes_after_the_idle_limit() {
        var machine = Machine(now: 0)
        XCTAssertEqual(machine.tick(now: 10_000, limits: limits, body: nil, acknowledged: nil), .none)
        XCTAssertEqual(machine.tick(now: 10_001, limits: limits, body: nil, acknowledged: nil), .idleExpired)
    }

    func test_bytes_arriving_move_the_idle_mark() {
        var machine = Machine(now: 0)
        machine.bytesArrived(now: 9_000)
        XCTAssertEqual(machine.tick(now: 10_001, limits: limits, body: nil, acknowledged: nil), .none)
    }

    func test_a_head_slower_than_its_limit_is_refused() {
        var machine = Machine(now: 0)
        machine.messageBegins(now: 100)
        XCTAssertEqual(machine.tick(now: 5_100, limits: limits, body: nil, acknowledged: nil), .none)
        XCTAssertEqual(machine.tick(now: 5_101, limits: limits, body: nil, acknowledged: nil), .headExpired)
        machine.refuse()
        XCTAssertEqual(machine.tick(now: 6_200, limits: limits, body: nil, acknowledged: nil), .none,
                       "the 408 is answered once")
    }

    func test_a_stalled_body_is_refused_and_a_slow_one_is_not() {
        var machine = machineWithRequest()
        let sample = { (received: Int64) in Machine.BodySample(received: received, remaining: 1_000 - received) }
        XCTAssertEqual(machine.tick(now: 1_000, limits: limits, body: sample(0), acknowledged: nil), .none)
        XCTAssertEqual(machine.tick(now: 2_000, limits: limits, body: sample(150), acknowledged: nil), .none)
        XCTAssertEqual(machine.tick(now: 3_000, limits: limits, body: sample(160), acknowledged: nil), .none)
        XCTAssertEqual(machine.tick(now: 4_000, limits: limits, body: sample(170), acknowledged: nil), .bodyStalled)
    }

    func test_a_body_held_back_by_berth_is_not_the_peers_delay() {
        var machine = machineWithRequest()
        let stuck = Machine.BodySample(received: 10, remaining: 990)
        XCTAssertEqual(machine.tick(now: 1_000, limits: limits, body: stuck, acknowledged: nil), .none)
        machine.bodyHeld(true)
        XCTAssertEqual(machine.tick(now: 9_000, limits: limits, body: stuck, acknowledged: nil), .none)
        machine.bodyHeld(false)
        XCTAssertEqual(machine.tick(now: 9_500, limits: limits, body: stuck, acknowledged: nil), .none,
                       "the window starts again after a hold")
        XCTAssertEqual(machine.tick(now: 11_500, limits: limits, body: stuck, acknowledged: nil), .bodyStalled)
    }

    // MARK: A client that stops reading

    func test_a_client_that_stops_reading_its_answer_is_reset() {
        var machine = machineWithRequest()
        machine.requestEnds(now: 0)
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        XCTAssertEqual(machine.tick(now: 1_000, limits: limits, body: nil, acknowledged: 5_000), .none)
        XCTAssertEqual(machine.tick(now: 2_000, limits: limits, body: nil, acknowledged: 5_000), .none)
        XCTAssertEqual(machine.tick(now: 3_000, limits: limits, body: nil, acknowledged: 5_050), .outputStalled)
    }

    func test_a_client_that_keeps_taking_its_answer_is_not_reset() {
        var machine = machineWithRequest()
        machine.requestEnds(now: 0)
        _ = machine.answerStarts(keepAlive: true, draining: false, withheldBody: false)
        machine.transferInPool(true)
        for second in 1...10 {
            XCTAssertEqual(machine.tick(now: UInt64(second) * 1_000, limits: limits, body: nil,
                                        acknowledged: Int64(second) * 200), .none)
        }
    }

    func test_output_nobody_waits_for_disarms_the_output_deadline() {
        var machine = machineWithRequest()
        XCTAssertEqual(machine.tick(now: 1_000, limits: limits, body: nil, acknowledged: 0), .none)
        XCTAssertEqual(machine.tick(now: 2_000, limits: limits, body: nil, acknowledged: nil), .none)
        XCTAssertEqual(machine.outputProgress.state, .disarmed)
        XCTAssertEqual(machine.tick(now: 5_000, limits: limits, body: nil, acknowledged: 0), .none,
                       "a new wait starts a new window")
    }
}
