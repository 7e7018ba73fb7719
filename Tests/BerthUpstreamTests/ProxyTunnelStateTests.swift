@testable import BerthUpstream
import XCTest

/// The CONNECT step of an https connection through the egress proxy, in the connection's state machine:
/// the proxy's answer read to the end of its head, byte by byte or at once; what it says decides whether
/// the TLS handshake begins.
final class ProxyTunnelStateTests: XCTestCase {
    typealias Machine = UpstreamConnectionStateMachine

    private func tunnelling() -> Machine {
        var machine = Machine(now: 0, timeouts: .init(connectMilliseconds: 1_000, readMilliseconds: 5_000, idleMilliseconds: 3_000))
        machine.connecting()
        machine.tunnelling()
        return machine
    }

    private func feed(_ machine: inout Machine, _ text: String) -> Machine.TunnelStep {
        Array(text.utf8).withUnsafeBytes { machine.tunnelBytesArrived($0) }
    }

    func test_a_200_opens_the_tunnel_and_the_handshake_begins() {
        var machine = tunnelling()
        XCTAssertEqual(feed(&machine, "HTTP/1.1 200 Connection established\r\n\r\n"), .handshake(leftover: []))
        XCTAssertEqual(machine.state, .handshaking)
    }

    func test_the_answer_fed_a_byte_at_a_time_opens_the_tunnel_at_its_last_byte() {
        var machine = tunnelling()
        let answer = "HTTP/1.0 200 OK\r\nProxy-Agent: squid\r\n\r\n"
        for (index, byte) in answer.utf8.enumerated() {
            let step = [byte].withUnsafeBytes { machine.tunnelBytesArrived($0) }
            XCTAssertEqual(step, index == answer.utf8.count - 1 ? .handshake(leftover: []) : .wait, "byte \(index)")
        }
    }

    func test_bytes_past_the_head_belong_to_the_tls_session() {
        var machine = tunnelling()
        XCTAssertEqual(feed(&machine, "HTTP/1.1 200 OK\r\n\r\n\u{16}\u{03}"), .handshake(leftover: [0x16, 0x03]))
    }

    func test_a_407_403_or_502_is_a_refusal_with_its_status_and_reason() {
        for (line, status, reason) in [("HTTP/1.1 407 Proxy Authentication Required", 407, "Proxy Authentication Required"),
                                       ("HTTP/1.1 403 Forbidden", 403, "Forbidden"), ("HTTP/1.1 502", 502, "")] {
            var machine = tunnelling()
            XCTAssertEqual(feed(&machine, line + "\r\nContent-Length: 0\r\n\r\n"), .refused(status: status, reason: reason), line)
            XCTAssertEqual(machine.state, .tunnelling, "a refused tunnel is closed by the connection, not opened")
        }
    }

    func test_an_answer_that_is_not_http_or_has_no_end_is_malformed() {
        var machine = tunnelling()
        guard case .malformed = feed(&machine, "SSH-2.0-OpenSSH\r\n\r\n") else { return XCTFail("not HTTP") }
        machine = tunnelling()
        XCTAssertEqual(feed(&machine, "HTTP/1.1 200 OK\r\n"), .wait)
        guard case .malformed = feed(&machine, String(repeating: "X-Filler: y\r\n", count: 2_000)) else {
            return XCTFail("a head without an end past the limit")
        }
    }

    func test_the_timer_in_the_tunnelling_state_is_a_connect_timeout() {
        var machine = tunnelling()
        XCTAssertEqual(machine.timerFired(now: 1_000, exchangePaused: false), .connectTimedOut)
    }

    func test_bytes_outside_the_tunnelling_state_are_not_the_proxys() {
        var machine = tunnelling()
        _ = feed(&machine, "HTTP/1.1 200 OK\r\n\r\n")
        XCTAssertEqual(feed(&machine, "HTTP/1.1 200 OK\r\n\r\n"), .ignore)
    }

    func test_the_connect_request_names_the_upstream_and_carries_basic_credentials() {
        let proxy = ProxyEndpoint(host: "Proxy.corp", port: 3128, username: "ops", password: "pa:ss")
        let text = String(decoding: proxy.connectRequest(to: UpstreamOrigin(isTLS: true, host: "ghcr.io", port: 443), userAgent: "berth"), as: UTF8.self)
        XCTAssertEqual(text, "CONNECT ghcr.io:443 HTTP/1.1\r\nHost: ghcr.io:443\r\nUser-Agent: berth\r\n"
                       + "Proxy-Authorization: Basic b3BzOnBhOnNz\r\n\r\n")
        XCTAssertEqual(proxy.description, "proxy.corp:3128")
        let v6 = ProxyEndpoint(host: "::1", port: 3128).connectRequest(to: UpstreamOrigin(isTLS: true, host: "::1", port: 5000), userAgent: "b")
        XCTAssertTrue(String(decoding: v6, as: UTF8.self).hasPrefix("CONNECT [::1]:5000 HTTP/1.1\r\n"))
    }

    func test_a_plain_http_request_to_the_proxy_is_in_absolute_form_with_the_credentials() throws {
        let url = try XCTUnwrap(UpstreamURL("http://127.0.0.1:5000/v2/a/manifests/v1?ns=x"))
        let proxy = ProxyEndpoint(host: "127.0.0.1", port: 3128, username: "ops", password: "pass")
        let text = String(decoding: UpstreamRequest(url: url).serialized(userAgent: "berth", through: proxy), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("GET http://127.0.0.1:5000/v2/a/manifests/v1?ns=x HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n"
                                     + "Proxy-Authorization: Basic b3BzOnBhc3M=\r\n"), text)
        let direct = String(decoding: UpstreamRequest(url: url).serialized(userAgent: "berth"), as: UTF8.self)
        XCTAssertTrue(direct.hasPrefix("GET /v2/a/manifests/v1?ns=x HTTP/1.1\r\n") && !direct.contains("Proxy-"), direct)
    }
}
