@testable import BerthUpstream
import BerthTestSupport
import Foundation
import XCTest

/// The registry auth flow and redirects against the Python peer's token endpoint and challenges.
final class RegistryClientTests: XCTestCase {
    var directory: String!
    var peer: PythonPeer!
    var harness: LoopHarness!
    var client: UpstreamClient!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory.make("berth-mirror-registry")
        peer = try PythonPeer(directory: directory)
        harness = LoopHarness()
        client = try UpstreamClient(loop: harness.loop)
    }

    override func tearDown() {
        client.shutdown()
        harness.drain()
        peer.stop()
        TemporaryDirectory.remove(directory)
    }

    func upstream(username: String? = nil, password: String? = nil) -> RegistryClient {
        RegistryClient(client: client, baseURL: UpstreamURL(peer.url("main", "/"))!, username: username, password: password)
    }

    func stats() -> [String: Any] {
        let response = harness.send(client, peer.url("main", "/stats"))
        return (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    var tokenRequests: Int { stats()["token_requests"] as? Int ?? -1 }
    var challenges: Int { stats()["challenges"] as? Int ?? -1 }

    func test_bearer_challenge_is_answered_with_an_anonymous_token() {
        let response = harness.fetch(upstream(), "/v2/public/manifests/latest")
        XCTAssertNil(response.error)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "public content")
        XCTAssertEqual(stats()["token_auth"] as? [String], ["none"])
    }

    func test_token_is_cached_per_scope_and_sent_before_the_next_challenge() {
        let registry = upstream()
        harness.fetch(registry, "/v2/public/manifests/latest")
        XCTAssertEqual(challenges, 1)
        let again = harness.fetch(registry, "/v2/public/blobs/sha256:abc")
        XCTAssertEqual(again.text, "public content")
        XCTAssertEqual(tokenRequests, 1)
        XCTAssertEqual(challenges, 1, "the cached token should have been sent before a challenge")
    }

    func test_concurrent_fetches_of_one_scope_share_one_token_request() {
        let registry = upstream()
        let handlers = (0..<3).map { _ in RecordingHandler() }
        for handler in handlers { registry.fetch("GET", "/v2/public/manifests/latest", handler: handler) }
        harness.run(until: { handlers.allSatisfy(\.ended) }, "three fetches")
        XCTAssertEqual(handlers.map(\.text), Array(repeating: "public content", count: 3))
        XCTAssertEqual(tokenRequests, 1)
    }

    func test_expired_token_is_asked_for_again() {
        let registry = upstream()
        var clock: UInt64 = 1_000_000
        registry.now = { clock }
        harness.fetch(registry, "/v2/public/manifests/latest")
        clock += 299_000
        harness.fetch(registry, "/v2/public/manifests/latest")
        XCTAssertEqual(tokenRequests, 1, "the token lasts 300 s")
        clock += 2_000
        let late = harness.fetch(registry, "/v2/public/manifests/latest")
        XCTAssertEqual(late.text, "public content")
        XCTAssertEqual(tokenRequests, 2)
    }

    func test_cached_token_the_upstream_refuses_is_replaced_once() {
        let registry = upstream()
        harness.fetch(registry, "/v2/public/manifests/latest")
        harness.send(client, peer.url("main", "/admin/revoke"))
        let response = harness.fetch(registry, "/v2/public/manifests/latest")
        XCTAssertNil(response.error)
        XCTAssertEqual(response.text, "public content")
        XCTAssertEqual(tokenRequests, 2)
    }

    func test_token_for_a_private_scope_is_asked_with_basic_credentials() {
        let response = harness.fetch(upstream(username: "alice", password: "secret"), "/v2/private/manifests/v1")
        XCTAssertNil(response.error)
        XCTAssertEqual(response.text, "private content")
        let basic = "Basic " + Data("alice:secret".utf8).base64EncodedString()
        XCTAssertEqual(stats()["token_auth"] as? [String], [basic])
    }

    func test_token_endpoint_refusal_is_an_authentication_error() {
        let response = harness.fetch(upstream(), "/v2/private/manifests/v1")
        XCTAssertNil(response.status, "the intermediate 401 must not reach the handler")
        guard case .authenticationFailed(let reason)? = response.error else {
            return XCTFail("expected an authentication failure, got \(String(describing: response.error))")
        }
        XCTAssertTrue(reason.contains("401"), reason)
    }

    func test_basic_challenge_is_answered_with_the_credentials() {
        let registry = upstream(username: "alice", password: "secret")
        let response = harness.fetch(registry, "/v2/basic/echo")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.echoedHeaders["Authorization"], "Basic " + Data("alice:secret".utf8).base64EncodedString())
        harness.fetch(registry, "/v2/basic/echo")
        XCTAssertEqual(challenges, 1, "credentials should go first once Basic was asked for")
    }

    func test_userinfo_of_the_base_url_is_sent_as_basic_credentials_and_kept_out_of_it() {
        let address = peer.url("main", "/").replacingOccurrences(of: "http://", with: "http://alice:s%65cret@")
        let registry = RegistryClient(client: client, baseURL: UpstreamURL(address)!)
        XCTAssertNil(registry.baseURL.username)
        XCTAssertFalse(registry.baseURL.description.contains("alice"))
        let response = harness.fetch(registry, "/v2/basic/echo")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.echoedHeaders["Authorization"], "Basic " + Data("alice:secret".utf8).base64EncodedString())
    }

    func test_basic_challenge_without_credentials_reaches_the_handler() {
        let response = harness.fetch(upstream(), "/v2/basic/echo")
        XCTAssertNil(response.error)
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.headers["WWW-Authenticate"], "Basic realm=\"peer\"")
    }

    func test_redirect_to_another_host_does_not_carry_the_upstream_authorization() {
        let response = harness.fetch(upstream(username: "alice", password: "secret"), "/v2/basic/redirect-away",
                                     headers: [("Accept", "application/octet-stream")])
        XCTAssertNil(response.error)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.echo["peer"] as? String, "other")
        XCTAssertNil(response.echoedHeaders["Authorization"])
        XCTAssertEqual(response.echoedHeaders["Accept"], "application/octet-stream")
    }

    func test_redirect_on_the_same_host_keeps_the_authorization() {
        let response = harness.fetch(upstream(username: "alice", password: "secret"), "/v2/basic/redirect-home")
        XCTAssertEqual(response.echo["peer"] as? String, "main")
        XCTAssertNotNil(response.echoedHeaders["Authorization"])
    }

    func test_five_redirects_are_followed_and_a_sixth_is_an_error() {
        let registry = upstream()
        let five = harness.fetch(registry, "/redirect-chain?n=5")
        XCTAssertNil(five.error)
        XCTAssertEqual(five.text, "arrived")
        let six = harness.fetch(registry, "/redirect-chain?n=6")
        XCTAssertNil(six.status)
        XCTAssertEqual(six.error, .tooManyRedirects(5))
    }

    func test_see_other_turns_a_post_into_a_get_without_body() {
        let response = harness.fetch(upstream(), "/see-other", method: "POST", body: Array("data".utf8))
        XCTAssertEqual(response.echo["method"] as? String, "GET")
        XCTAssertEqual(response.echo["body"] as? String, "")
    }

    func test_cancelled_fetch_ends_once_as_cancelled() {
        let handler = RecordingHandler()
        let fetch = upstream().fetch("GET", "/v2/public/manifests/latest", handler: handler)
        fetch.cancel()
        fetch.cancel()
        XCTAssertEqual(handler.endCount, 1)
        XCTAssertEqual(handler.error, .cancelled)
        harness.run(forMilliseconds: 200)
        XCTAssertEqual(handler.endCount, 1)
        XCTAssertNil(handler.status)
    }
}
