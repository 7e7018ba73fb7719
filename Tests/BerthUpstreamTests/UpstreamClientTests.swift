@testable import BerthUpstream
import BerthTestSupport
import Foundation
import XCTest

/// The client against a real Python HTTP server on loopback: framing, keep-alive, back-pressure, failures.
final class UpstreamClientTests: XCTestCase {
    var directory: String!
    var peer: PythonPeer!
    var harness: LoopHarness!
    var client: UpstreamClient!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory.make("berth-mirror")
        peer = try PythonPeer(directory: directory)
        harness = LoopHarness()
        client = try makeClient()
    }

    override func tearDown() {
        client.shutdown()
        harness.drain()
        peer.stop()
        TemporaryDirectory.remove(directory)
    }

    func makeClient(readTimeout: UInt64 = 10_000, connectTimeout: UInt64 = 10_000, idleTimeout: UInt64 = 30_000) throws -> UpstreamClient {
        var configuration = UpstreamClient.Configuration()
        configuration.idleTimeoutMilliseconds = idleTimeout
        configuration.readTimeoutMilliseconds = readTimeout
        configuration.connectTimeoutMilliseconds = connectTimeout
        return try UpstreamClient(loop: harness.loop, configuration: configuration)
    }

    func stats() -> [String: Any] {
        let stats = harness.send(client, peer.url("main", "/stats"))
        return (try? JSONSerialization.jsonObject(with: Data(stats.body)) as? [String: Any]) ?? [:]
    }

    func test_content_length_body_is_streamed_whole_with_the_head() {
        let response = harness.send(client, peer.url("main", "/plain"))
        XCTAssertNil(response.error)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers["x-peer"], "main")
        XCTAssertEqual(response.text, "hello upstream")
    }

    func test_chunked_body_is_decoded() {
        let response = harness.send(client, peer.url("main", "/chunked"))
        XCTAssertNil(response.error)
        XCTAssertEqual(response.text, "alpha-beta-" + String(repeating: "x", count: 70000) + "-gamma")
    }

    func test_a_body_is_read_straight_into_the_memory_the_handler_offers() {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { memory.deallocate() }
        let handler = RecordingHandler()
        handler.verifier = PatternVerifier()
        handler.destination = memory
        let size = 8 << 20
        client.send(UpstreamRequest(url: UpstreamURL(peer.url("main", "/bytes?n=\(size)"))!), to: handler)
        harness.run(until: { handler.ended }, "the end of the body")
        XCTAssertNil(handler.error)
        XCTAssertEqual(handler.verifier!.count, size)
        XCTAssertEqual(handler.verifier!.mismatches, 0)
        // Only what came in the read with the head goes through the connection's buffer.
        XCTAssertGreaterThan(handler.bytesInPlace, size - (256 << 10))  // the loop's read buffer
    }

    func test_a_chunked_body_read_into_the_handlers_memory_arrives_whole_between_its_framing() {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { memory.deallocate() }
        let handler = RecordingHandler()
        handler.verifier = PatternVerifier()
        handler.destination = memory
        let size = 3_000_000
        client.send(UpstreamRequest(url: UpstreamURL(peer.url("main", "/many-chunks?n=\(size)"))!), to: handler)
        harness.run(until: { handler.ended }, "the end of the body")
        XCTAssertNil(handler.error)
        XCTAssertEqual(handler.verifier!.count, size)
        XCTAssertEqual(handler.verifier!.mismatches, 0)
    }

    func test_body_delimited_by_the_close_is_complete_and_not_pooled() {
        let response = harness.send(client, peer.url("main", "/close-delimited"))
        XCTAssertNil(response.error)
        XCTAssertEqual(response.text, "until the end")
        XCTAssertEqual(client.idleConnectionCount, 0)
    }

    func test_request_body_host_and_headers_reach_the_upstream() {
        let response = harness.send(client, peer.url("main", "/echo?x=1"), method: "POST", headers: [("X-Custom", "yes")],
                                    body: Array("payload".utf8))
        XCTAssertNil(response.error)
        XCTAssertEqual(response.echo["method"] as? String, "POST")
        XCTAssertEqual(response.echo["path"] as? String, "/echo?x=1")
        XCTAssertEqual(response.echo["body"] as? String, "payload")
        XCTAssertEqual(response.echoedHeaders["Host"], "127.0.0.1:\(peer.ports["main"]!)")
        XCTAssertEqual(response.echoedHeaders["X-Custom"], "yes")
        XCTAssertEqual(response.echoedHeaders["Content-Length"], "7")
    }

    func test_keep_alive_connection_is_reused_for_the_next_request() {
        let first = harness.send(client, peer.url("main", "/echo"))
        XCTAssertEqual(client.idleConnectionCount, 1)
        let second = harness.send(client, peer.url("main", "/echo"))
        XCTAssertNotNil(first.echo["connection"])
        XCTAssertEqual(first.echo["connection"] as? Int, second.echo["connection"] as? Int, "the server saw two connections")
        XCTAssertEqual(client.connectionsOpened, 1)
    }

    func test_pooled_connection_unused_past_the_idle_timeout_is_closed() throws {
        client = try makeClient(idleTimeout: 200)
        harness.send(client, peer.url("main", "/plain"))
        XCTAssertEqual(client.idleConnectionCount, 1)
        harness.run(until: { self.client.idleConnectionCount == 0 }, "the idle connection closing")
    }

    func test_pool_keeps_at_most_the_configured_idle_connections() {
        let handlers = (0..<6).map { _ in RecordingHandler() }
        for handler in handlers { client.send(UpstreamRequest(url: UpstreamURL(peer.url("main", "/slow"))!), to: handler) }
        harness.run(until: { handlers.allSatisfy(\.ended) }, "six parallel responses")
        XCTAssertEqual(handlers.map(\.text), Array(repeating: "0123456789", count: 6))
        XCTAssertEqual(client.connectionsOpened, 6)
        XCTAssertEqual(client.idleConnectionCount, client.configuration.maxIdleConnectionsPerOrigin)
    }

    func test_head_response_has_no_body_and_leaves_the_connection_usable() {
        let head = harness.send(client, peer.url("main", "/bytes?n=1000"), method: "HEAD")
        XCTAssertNil(head.error)
        XCTAssertEqual(head.headers["Content-Length"], "1000")
        XCTAssertTrue(head.body.isEmpty)
        let next = harness.send(client, peer.url("main", "/plain"))
        XCTAssertEqual(next.text, "hello upstream")
        XCTAssertEqual(client.connectionsOpened, 1)
    }

    func test_slow_but_steady_body_is_not_a_timeout() throws {
        client = try makeClient(readTimeout: 2_000)
        let response = harness.send(client, peer.url("main", "/slow"))
        XCTAssertNil(response.error)
        XCTAssertEqual(response.text, "0123456789")
    }

    func test_stalled_body_is_a_read_timeout() throws {
        client = try makeClient(readTimeout: 300)
        let response = harness.send(client, peer.url("main", "/stall"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "start")
        XCTAssertEqual(response.error, .timeout(.read, host: "127.0.0.1", milliseconds: 300))
    }

    func test_silent_upstream_is_a_read_timeout_before_any_head() throws {
        client = try makeClient(readTimeout: 300)
        let response = harness.send(client, peer.url("silent", "/"))
        XCTAssertNil(response.status)
        XCTAssertEqual(response.error, .timeout(.read, host: "127.0.0.1", milliseconds: 300))
    }

    func test_refused_connection_is_reported() {
        let port = unusedLoopbackPort()
        let response = harness.send(client, "http://127.0.0.1:\(port)/")
        XCTAssertEqual(response.error, .connectionRefused(host: "127.0.0.1", port: port))
        XCTAssertTrue(response.error!.description.contains("refused"))
    }

    func test_unresolvable_host_is_a_dns_failure() {
        let response = harness.send(client, "http://nonexistent.invalid/")
        guard case .dnsFailure(let host, let reason)? = response.error else {
            return XCTFail("expected a DNS failure, got \(String(describing: response.error))")
        }
        XCTAssertEqual(host, "nonexistent.invalid")
        XCTAssertFalse(reason.isEmpty)
    }

    func test_malformed_status_line_is_reported() {
        let response = harness.send(client, peer.url("main", "/garbage"))
        guard case .malformedResponse? = response.error else {
            return XCTFail("expected a malformed response, got \(String(describing: response.error))")
        }
        XCTAssertNil(response.status)
    }

    func test_body_cut_short_is_peer_closed() {
        let response = harness.send(client, peer.url("main", "/truncated"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "only ten b")
        guard case .peerClosed? = response.error else {
            return XCTFail("expected peer closed, got \(String(describing: response.error))")
        }
    }

    func test_request_failing_on_a_stale_pooled_connection_is_retried_once_on_a_fresh_one() {
        harness.send(client, peer.url("main", "/plain"))
        XCTAssertEqual(client.idleConnectionCount, 1)
        // The server drops the second request on a connection without a byte: what a keep-alive race looks like.
        let response = harness.send(client, peer.url("main", "/no-response-on-reuse"))
        XCTAssertNil(response.error)
        XCTAssertEqual(response.text, "fresh")
        XCTAssertEqual(client.connectionsOpened, 2)
    }

    func test_failure_on_a_fresh_connection_is_not_retried() {
        let response = harness.send(client, peer.url("main", "/garbage"))
        XCTAssertNotNil(response.error)
        XCTAssertEqual(client.connectionsOpened, 1)
    }

    func test_connection_the_peer_closes_leaves_the_pool() {
        let response = harness.send(client, peer.url("main", "/close-after"))
        XCTAssertEqual(response.text, "bye")
        harness.run(until: { self.client.idleConnectionCount == 0 }, "the closed connection leaving the pool")
        let next = harness.send(client, peer.url("main", "/plain"))
        XCTAssertEqual(next.text, "hello upstream")
        XCTAssertEqual(client.connectionsOpened, 2)
    }

    /// Paused, the client reads nothing, so the server cannot finish sending 64 MiB (far more than the
    /// socket buffers hold); nothing is delivered while paused, even past the read timeout; resumed, every
    /// byte arrives in order.
    func test_paused_body_stops_reading_until_resumed() throws {
        client = try makeClient(readTimeout: 300)
        let size = 64 << 20
        let handler = RecordingHandler()
        handler.verifier = PatternVerifier()
        var pausedAt: Int?
        handler.onBody = { _, exchange, _ in
            if pausedAt == nil {
                pausedAt = Int(exchange.bodyBytesReceived)
                exchange.pause()
            }
        }
        client.send(UpstreamRequest(url: UpstreamURL(peer.url("main", "/bytes?n=\(size)&id=paused"))!), to: handler)
        harness.run(until: { pausedAt != nil }, "the first body bytes")
        harness.run(forMilliseconds: 800)
        let statsClient = try makeClient()
        let stats = harness.send(statsClient, peer.url("main", "/stats"))
        statsClient.shutdown()
        let completed = (try JSONSerialization.jsonObject(with: Data(stats.body)) as? [String: Any])?["completed"] as? [String]
        XCTAssertEqual(completed, [], "the server finished sending while the client was paused")
        XCTAssertFalse(handler.ended, "ended while paused: \(String(describing: handler.error))")
        XCTAssertEqual(handler.verifier!.count, pausedAt)
        handler.exchange!.resume()
        harness.run(until: { handler.ended }, "the end of the body")
        XCTAssertNil(handler.error)
        XCTAssertEqual(handler.bodyCallsWhilePaused, 0)
        XCTAssertEqual(handler.verifier!.count, size)
        XCTAssertEqual(handler.verifier!.mismatches, 0)
    }

    /// 100-byte chunks sent in one write: one read holds hundreds of body callbacks, and the parser must
    /// stop inside the first one that pauses.
    func test_pausing_in_every_body_call_still_delivers_everything_in_order() {
        let handler = RecordingHandler()
        handler.verifier = PatternVerifier()
        handler.onBody = { _, exchange, _ in exchange.pause() }
        let exchange = client.send(UpstreamRequest(url: UpstreamURL(peer.url("main", "/many-chunks?n=300000"))!), to: handler)
        var resumes = 0
        let resumer = harness.loop.repeating(every: 1) {
            if exchange.isPaused { resumes += 1; exchange.resume() }
        }
        harness.run(until: { handler.ended }, "the end of the body")
        resumer.stop()
        XCTAssertNil(handler.error)
        XCTAssertGreaterThan(resumes, 1)
        XCTAssertEqual(handler.bodyCallsWhilePaused, 0)
        XCTAssertEqual(handler.verifier!.count, 300_000)
        XCTAssertEqual(handler.verifier!.mismatches, 0)
        XCTAssertEqual(client.idleConnectionCount, 1, "a response read to its end leaves the connection reusable")
    }

    func test_pause_in_head_holds_a_body_that_arrived_with_it() {
        let handler = RecordingHandler()
        handler.onHead = { $0.pause() }
        let exchange = client.send(UpstreamRequest(url: UpstreamURL(peer.url("main", "/plain"))!), to: handler)
        harness.run(until: { handler.status != nil }, "the head")
        harness.run(forMilliseconds: 100)
        XCTAssertEqual(handler.body, [])
        XCTAssertFalse(handler.ended)
        exchange.resume()
        harness.run(until: { handler.ended }, "the end")
        XCTAssertNil(handler.error)
        XCTAssertEqual(handler.text, "hello upstream")
    }

    func test_cancel_mid_body_ends_once_and_discards_the_connection() {
        let handler = RecordingHandler()
        handler.onBody = { _, exchange, _ in exchange.cancel() }
        harness.send(client, peer.url("main", "/bytes?n=4000000"), handler: handler)
        XCTAssertEqual(handler.error, .cancelled)
        XCTAssertLessThan(handler.body.count, 4_000_000)
        XCTAssertEqual(client.idleConnectionCount, 0)
        harness.send(client, peer.url("main", "/plain"))
        XCTAssertEqual(client.connectionsOpened, 2)
    }

    func test_send_after_shutdown_ends_at_once_as_cancelled() {
        client.shutdown()
        let handler = RecordingHandler()
        client.send(UpstreamRequest(url: UpstreamURL(peer.url("main", "/plain"))!), to: handler)
        XCTAssertEqual(handler.error, .cancelled)
        XCTAssertEqual(handler.endCount, 1)
    }
}
