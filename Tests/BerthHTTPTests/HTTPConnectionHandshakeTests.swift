@testable import BerthHTTP
import XCTest

/// A TLS connection's first phase in the state machine: the handshake, read like a head and timed like one.
final class HTTPConnectionHandshakeTests: XCTestCase {
    typealias Machine = HTTPConnectionStateMachine

    private var limits: HTTPLimits {
        var limits = HTTPLimits()
        limits.idleTimeoutMilliseconds = 10_000
        limits.headerTimeoutMilliseconds = 5_000
        return limits
    }

    func test_a_tls_connection_begins_handshaking_and_reads_its_input() {
        let machine = Machine(now: 0, tls: true)
        XCTAssertEqual(machine.state, .handshaking(since: 0))
        XCTAssertTrue(machine.isHandshaking)
        XCTAssertTrue(machine.readsInput)
        XCTAssertFalse(machine.hasExchange)
        XCTAssertEqual(Machine(now: 0).state, .idle, "a plain connection has no handshake")
    }

    func test_a_finished_handshake_waits_for_the_first_request_under_the_idle_limit() {
        var machine = Machine(now: 0, tls: true)
        machine.handshakeDone(now: 4_000)
        XCTAssertEqual(machine.state, .idle)
        XCTAssertEqual(machine.tick(now: 13_000, limits: limits, body: nil, acknowledged: nil), .none)
        XCTAssertEqual(machine.tick(now: 14_001, limits: limits, body: nil, acknowledged: nil), .idleExpired)
    }

    func test_a_stalled_handshake_is_cut_at_the_head_limit() {
        var machine = Machine(now: 1_000, tls: true)
        machine.bytesArrived(now: 5_000)
        XCTAssertEqual(machine.tick(now: 6_000, limits: limits, body: nil, acknowledged: nil), .none)
        // Bytes trickling in do not extend it: the limit counts from the connection's start, as a head's does.
        XCTAssertEqual(machine.tick(now: 6_001, limits: limits, body: nil, acknowledged: nil), .handshakeExpired)
    }

    func test_handshake_done_is_only_taken_while_handshaking() {
        var machine = Machine(now: 0, tls: true)
        machine.handshakeDone(now: 1)
        machine.messageBegins(now: 2)
        machine.handshakeDone(now: 3)
        XCTAssertEqual(machine.state, .readingHead(since: 2))
    }

    func test_drain_closes_a_connection_still_in_its_handshake() {
        var machine = Machine(now: 0, tls: true)
        XCTAssertTrue(machine.drain())
        XCTAssertEqual(machine.close(), .closeNow(abortsExchange: false))
        XCTAssertTrue(machine.isClosed)
        XCTAssertEqual(machine.tick(now: 100_000, limits: limits, body: nil, acknowledged: nil), .none)
    }

    func test_a_close_during_the_handshake_aborts_no_exchange() {
        var machine = Machine(now: 0, tls: true)
        XCTAssertEqual(machine.close(), .closeNow(abortsExchange: false))
        XCTAssertEqual(machine.close(), .alreadyClosed)
    }
}
