@testable import BerthUpstream
import BerthTestSupport
import Foundation
import XCTest

/// TLS through memory BIOs against Python's ssl module, with a CA and certificates made for the test.
final class UpstreamTLSTests: XCTestCase {
    var directory: String!
    var certificates: TestCertificates!
    var peer: PythonPeer!
    var harness: LoopHarness!
    var clients: [UpstreamClient] = []

    override func setUpWithError() throws {
        directory = try TemporaryDirectory.make("berth-mirror-tls")
        certificates = try TestCertificates(directory: directory)
        peer = try PythonPeer(directory: directory, tls: (certificates.cert, certificates.key,
                                                          certificates.wrongNameCert, certificates.wrongNameKey))
        harness = LoopHarness()
    }

    override func tearDown() {
        for client in clients { client.shutdown() }
        harness.drain()
        peer.stop()
        TemporaryDirectory.remove(directory)
    }

    func makeClient(verify: Bool = true, caFile: String? = nil, connectTimeout: UInt64 = 10_000) throws -> UpstreamClient {
        var configuration = UpstreamClient.Configuration()
        configuration.tls = UpstreamTLSConfiguration(verifyCertificates: verify, caFile: caFile)
        configuration.connectTimeoutMilliseconds = connectTimeout
        let client = try UpstreamClient(loop: harness.loop, configuration: configuration)
        clients.append(client)
        return client
    }

    func test_certificate_from_the_ca_file_is_verified_for_a_name_and_an_address() throws {
        let client = try makeClient(caFile: certificates.caFile)
        let byName = harness.send(client, peer.url("tls", "/plain", host: "localhost"))
        XCTAssertNil(byName.error)
        XCTAssertEqual(byName.text, "hello upstream")
        let byAddress = harness.send(client, peer.url("tls", "/plain"))
        XCTAssertNil(byAddress.error)
        XCTAssertEqual(byAddress.headers["X-Peer"], "tls")
    }

    func test_tls_connection_is_kept_alive_and_carries_chunked_bodies() throws {
        let client = try makeClient(caFile: certificates.caFile)
        let first = harness.send(client, peer.url("tls", "/echo"))
        let chunked = harness.send(client, peer.url("tls", "/chunked"))
        let second = harness.send(client, peer.url("tls", "/echo"))
        XCTAssertEqual(chunked.text, "alpha-beta-" + String(repeating: "x", count: 70000) + "-gamma")
        XCTAssertNotNil(first.echo["connection"])
        XCTAssertEqual(first.echo["connection"] as? Int, second.echo["connection"] as? Int)
        XCTAssertEqual(client.connectionsOpened, 1)
    }

    /// Decrypted bytes wait in OpenSSL and in the stash while paused; resumed, they come out in order.
    func test_large_tls_body_with_pauses_arrives_whole() throws {
        let client = try makeClient(caFile: certificates.caFile)
        let handler = RecordingHandler()
        handler.verifier = PatternVerifier()
        handler.onBody = { _, exchange, _ in exchange.pause() }
        let size = 600_000
        let exchange = client.send(UpstreamRequest(url: UpstreamURL(peer.url("tls", "/many-chunks?n=\(size)"))!), to: handler)
        let resumer = harness.loop.repeating(every: 1) { if exchange.isPaused { exchange.resume() } }
        harness.run(until: { handler.ended }, "the end of the body")
        resumer.stop()
        XCTAssertNil(handler.error)
        XCTAssertEqual(handler.bodyCallsWhilePaused, 0)
        XCTAssertEqual(handler.verifier!.count, size)
        XCTAssertEqual(handler.verifier!.mismatches, 0)
    }

    func test_a_tls_body_is_decrypted_straight_into_the_memory_the_handler_offers() throws {
        let client = try makeClient(caFile: certificates.caFile)
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { memory.deallocate() }
        let handler = RecordingHandler()
        handler.verifier = PatternVerifier()
        handler.destination = memory
        let size = 4 << 20
        client.send(UpstreamRequest(url: UpstreamURL(peer.url("tls", "/bytes?n=\(size)"))!), to: handler)
        harness.run(until: { handler.ended }, "the end of the body")
        XCTAssertNil(handler.error)
        XCTAssertEqual(handler.verifier!.count, size)
        XCTAssertEqual(handler.verifier!.mismatches, 0)
        // Only what came in the record with the head goes through the connection's buffer.
        XCTAssertGreaterThan(handler.bytesInPlace, size - (1 << 16))
    }

    func test_unknown_ca_is_a_verification_failure_with_openssl_reason() throws {
        let client = try makeClient()
        let response = harness.send(client, peer.url("tls", "/plain", host: "localhost"))
        XCTAssertNil(response.status)
        guard case .tlsVerificationFailed(let host, let reason)? = response.error else {
            return XCTFail("expected a verification failure, got \(String(describing: response.error))")
        }
        XCTAssertEqual(host, "localhost")
        XCTAssertTrue(reason.contains("issuer"), reason)
    }

    func test_certificate_for_another_name_is_a_verification_failure() throws {
        let client = try makeClient(caFile: certificates.caFile)
        let response = harness.send(client, peer.url("tls_wrong_name", "/plain", host: "localhost"))
        guard case .tlsVerificationFailed(_, let reason)? = response.error else {
            return XCTFail("expected a verification failure, got \(String(describing: response.error))")
        }
        XCTAssertTrue(reason.contains("hostname mismatch"), reason)
    }

    func test_verification_off_accepts_any_certificate() throws {
        let client = try makeClient(verify: false)
        let unknownCA = harness.send(client, peer.url("tls", "/plain"))
        XCTAssertNil(unknownCA.error)
        XCTAssertEqual(unknownCA.text, "hello upstream")
        let wrongName = harness.send(client, peer.url("tls_wrong_name", "/plain"))
        XCTAssertNil(wrongName.error)
        XCTAssertEqual(wrongName.headers["X-Peer"], "tls_wrong_name")
    }

    func test_plain_http_server_is_a_handshake_failure() throws {
        let client = try makeClient(caFile: certificates.caFile)
        let response = harness.send(client, "https://127.0.0.1:\(peer.ports["main"]!)/plain")
        guard case .tlsHandshakeFailed(let host, let reason)? = response.error else {
            return XCTFail("expected a handshake failure, got \(String(describing: response.error))")
        }
        XCTAssertEqual(host, "127.0.0.1")
        XCTAssertFalse(reason.isEmpty)
    }

    func test_handshake_that_never_completes_is_a_connect_timeout() throws {
        let client = try makeClient(caFile: certificates.caFile, connectTimeout: 300)
        let response = harness.send(client, "https://127.0.0.1:\(peer.ports["silent"]!)/")
        XCTAssertEqual(response.error, .timeout(.connect, host: "127.0.0.1", milliseconds: 300))
    }

    func test_unreadable_ca_file_is_refused_at_start() {
        var configuration = UpstreamClient.Configuration()
        configuration.tls.caFile = directory + "/missing.pem"
        XCTAssertThrowsError(try UpstreamClient(loop: harness.loop, configuration: configuration)) { error in
            guard case .tlsConfiguration(let reason)? = error as? UpstreamError else {
                return XCTFail("expected a configuration error, got \(error)")
            }
            XCTAssertTrue(reason.contains("missing.pem"), reason)
        }
    }
}
