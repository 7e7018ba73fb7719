@testable import BerthUpstream
import XCTest

final class UpstreamHealthTests: XCTestCase {
    func test_state_follows_the_last_exchange_and_the_last_failure_is_kept() {
        var health = UpstreamHealth()
        XCTAssertEqual(health.state, .unchecked)
        XCTAssertTrue(health.failed("connection refused", at: 100), "unchecked -> failing is a change")
        XCTAssertFalse(health.failed("connection refused", at: 105), "the same failure again is not")
        XCTAssertEqual(health.lastFailure, UpstreamHealth.Failure(seconds: 105, reason: "connection refused"))
        XCTAssertTrue(health.failed("timed out connecting", at: 110), "a new reason is a change")
        XCTAssertTrue(health.answered())
        XCTAssertFalse(health.answered())
        XCTAssertEqual(health.state, .answering)
        XCTAssertEqual(health.lastFailure, UpstreamHealth.Failure(seconds: 110, reason: "timed out connecting"))
    }

    func test_reasons_name_the_kind_of_failure_never_an_address() {
        let errors: [UpstreamError] = [
            .dnsFailure(host: "registry.corp", reason: "EAI_NONAME"), .connectionRefused(host: "10.1.2.3", port: 5000),
            .connectFailed(host: "10.1.2.3", port: 5000, reason: "ENETUNREACH"), .timeout(.connect, host: "10.1.2.3", milliseconds: 10_000),
            .tlsVerificationFailed(host: "registry.corp", reason: "self-signed certificate in /etc/ssl/x.pem"),
            .authenticationFailed("token endpoint https://auth.corp/token answered 401"),
        ]
        for error in errors {
            for hidden in ["registry.corp", "10.1.2.3", "5000", "/etc", "auth.corp"] {
                XCTAssertFalse(error.reason.contains(hidden), "\(error.reason) names \(hidden)")
            }
        }
        XCTAssertEqual(UpstreamError.connectionRefused(host: "h", port: 1).reason, "connection refused")
        XCTAssertNil(UpstreamHealth.reason(for: .cancelled), "a cancel here says nothing of the upstream")
        XCTAssertNil(UpstreamHealth.reason(for: .responseTooLarge(limit: 1)))
    }
}
