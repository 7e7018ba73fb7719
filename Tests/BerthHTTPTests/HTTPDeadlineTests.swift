@testable import BerthHTTP
import BerthTestSupport
import Foundation
import Glibc
import XCTest

/// Progress deadlines and the per-client connection limit on a real loop and socket, with a one-second window.
final class HTTPDeadlineTests: XCTestCase {
    var server: TestServer!

    override func setUpWithError() throws {
        var limits = HTTPLimits()
        limits.progress = ProgressRule(windowMilliseconds: 1000, minimumBytes: 64 * 1024)
        limits.maxConnectionsPerClient = 3
        server = try TestServer(limits: limits)
    }

    override func tearDown() {
        server.stop()
    }

    func test_a_reader_that_stops_taking_an_answer_from_memory_is_reset_while_another_is_served() throws {
        let stalled = try TestClient(port: server.port, receiveBuffer: 4096)
        stalled.send("GET /memory HTTP/1.1\r\nHost: x\r\n\r\n")
        let other = try TestClient(port: server.port)
        other.send("GET /memory HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let bytes = other.receiveAllBytes()
        XCTAssertEqual(bytes.count - (bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound ?? 0), 4 << 20)
        XCTAssertTrue(stalled.waitUntilReset(seconds: 20), "the stalled reader is still connected")
    }

    func test_a_reader_that_stops_taking_a_file_the_kernel_holds_whole_is_reset_too() throws {
        // 768 KiB fit in a loopback send buffer: the answer is out of Berth's hands, but not taken.
        let stalled = try TestClient(port: server.port, receiveBuffer: 4096)
        stalled.send("GET /medium HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(stalled.waitUntilReset(seconds: 20), "the stalled reader is still connected")
    }

    func test_a_body_trickled_below_the_minimum_rate_is_cut_with_408() throws {
        let client = try TestClient(port: server.port)
        client.send("PUT /t HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        var answer = ""
        for _ in 0..<100 where !answer.contains("\r\n\r\n") {
            client.send("x")
            answer += client.receive(until: "\r\n\r\n", waiting: 0.2)
        }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 408 "), answer)
        XCTAssertTrue(answer.contains("Connection: close\r\n"), answer)
    }

    func test_a_small_body_must_arrive_whole_within_one_window() throws {
        let client = try TestClient(port: server.port)
        client.send("PUT /t HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        var answer = ""
        for _ in 0..<99 where !answer.contains("\r\n\r\n") {
            client.send("x")
            answer += client.receive(until: "\r\n\r\n", waiting: 0.2)
        }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 408 "), answer)
    }

    func test_a_body_held_back_by_the_handler_for_longer_than_the_window_is_not_cut() throws {
        let client = try TestClient(port: server.port)
        client.send("PUT /paused HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
        client.send([UInt8](repeating: 0x61, count: 200_000))
        XCTAssertTrue(client.receive(until: "received 200000").hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    func test_a_body_at_many_times_the_minimum_rate_is_not_cut() throws {
        server.stop()
        var limits = HTTPLimits()
        limits.progress = ProgressRule(windowMilliseconds: 2000, minimumBytes: 4096)
        server = try TestServer(limits: limits)
        let client = try TestClient(port: server.port)
        client.send("PUT /t HTTP/1.1\r\nHost: x\r\nContent-Length: 163840\r\n\r\n")
        for _ in 0..<10 {
            client.send([UInt8](repeating: 0x61, count: 16384))
            Thread.sleep(forTimeInterval: 0.3)
        }
        XCTAssertTrue(client.receive(until: "PUT /t 163840").hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    func test_connections_over_the_per_client_limit_are_closed_while_the_first_ones_keep_working() throws {
        let first = try (0..<3).map { _ in try TestClient(port: server.port) }
        for client in first {
            client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertTrue(client.receive(until: "GET /a 0").hasPrefix("HTTP/1.1 200 OK\r\n"))
        }
        let refused = try TestClient(port: server.port)
        refused.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(refused.receiveUntilClosed().0, [], "a fourth connection was served")
        for client in first {
            client.send("GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertTrue(client.receive(until: "GET /c 0").hasPrefix("HTTP/1.1 200 OK\r\n"))
        }
        // A closed connection frees its place once the server has seen the close.
        shutdown(first[0].fd, Int32(SHUT_RDWR))
        XCTAssertTrue(server.waitUntil(openConnections: 2), "the server did not see the close")
        let next = try TestClient(port: server.port)
        next.send("GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(next.receive(until: "GET /d 0").contains("GET /d 0"), "the place of a closed connection was not freed")
    }
}
