@testable import BerthUpstream
import Foundation
import XCTest

/// The registry auth flow and redirects against the Python peer's token endpoint and challenges.
final class RegistryUpstreamTests: XCTestCase {
    var directory: String!
    var peer: PythonPeer!
    var harness: LoopHarness!
    var client: UpstreamClient!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("berth-mirror-registry")
        peer = try PythonPeer(directory: directory)
        harness = LoopHarness()
        client = try UpstreamClient(loop: harness.loop)
    }

    override func tearDown() {
        client.shutdown()
        harness.drain()
        peer.stop()
        try? FileManager.default.removeItem(atPath: directory)
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

/// The pure parts of the auth flow.
final class RegistryAuthParsingTests: XCTestCase {
    func test_bearer_challenge_parameters_are_read_with_quotes_and_escapes() {
        let field = #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#
        XCTAssertEqual(AuthChallenge.preferred(in: [field]),
                       .bearer(realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/alpine:pull"))
        XCTAssertEqual(AuthChallenge.parse(#"bearer realm="a\"b", error="insufficient_scope""#),
                       [.bearer(realm: #"a"b"#, service: nil, scope: nil)])
    }

    func test_bearer_is_preferred_over_basic_in_any_order() {
        XCTAssertEqual(AuthChallenge.preferred(in: [#"Basic realm="r""#, #"Bearer realm="t""#]), .bearer(realm: "t", service: nil, scope: nil))
        XCTAssertEqual(AuthChallenge.preferred(in: [#"Basic realm="r", Bearer realm="t",service=s"#]), .bearer(realm: "t", service: "s", scope: nil))
        XCTAssertEqual(AuthChallenge.preferred(in: [#"Basic realm="Registry Realm""#]), .basic)
        XCTAssertNil(AuthChallenge.preferred(in: ["Negotiate", #"Bearer service="no realm""#]))
    }

    func test_scope_is_read_from_repository_paths() {
        XCTAssertEqual(RegistryClient.scope(method: "GET", target: "/v2/library/alpine/manifests/3.20"), "repository:library/alpine:pull")
        XCTAssertEqual(RegistryClient.scope(method: "HEAD", target: "/v2/a/blobs/sha256:00?x=1"), "repository:a:pull")
        XCTAssertEqual(RegistryClient.scope(method: "POST", target: "/v2/team/app/blobs/uploads/"), "repository:team/app:pull,push")
        XCTAssertEqual(RegistryClient.scope(method: "PATCH", target: "/v2/team/app/blobs/uploads/abc"), "repository:team/app:pull,push")
        XCTAssertEqual(RegistryClient.scope(method: "GET", target: "/v2/x/tags/list?n=10"), "repository:x:pull")
        XCTAssertNil(RegistryClient.scope(method: "GET", target: "/v2/"))
        XCTAssertNil(RegistryClient.scope(method: "GET", target: "/v2/_catalog"))
    }

    func test_token_response_reads_token_or_access_token_and_defaults_the_lifetime() {
        let token = BearerTokenResponse(json: Array(#"{"token":"t","expires_in":300}"#.utf8))
        XCTAssertEqual(token?.token, "t")
        XCTAssertEqual(token?.expiresInSeconds, 300)
        let accessToken = BearerTokenResponse(json: Array(#"{"access_token":"a","expires_in":0}"#.utf8))
        XCTAssertEqual(accessToken?.token, "a")
        XCTAssertEqual(accessToken?.expiresInSeconds, 60)
        XCTAssertEqual(BearerTokenResponse(json: Array(#"{"token":"t","access_token":"a"}"#.utf8))?.token, "t")
        XCTAssertNil(BearerTokenResponse(json: Array(#"{"error":"no"}"#.utf8)))
        XCTAssertNil(BearerTokenResponse(json: Array("not json".utf8)))
    }

    func test_token_cache_expires_and_forgets_only_the_refused_token() {
        var cache = BearerTokenCache()
        cache.store("t1", for: "k", expiresInSeconds: 60, now: 1000)
        XCTAssertEqual(cache.token(for: "k", now: 60_999), "t1")
        XCTAssertNil(cache.token(for: "k", now: 61_000))
        cache.store("t2", for: "k", expiresInSeconds: 60, now: 0)
        cache.forget("t1", for: "k")
        XCTAssertEqual(cache.token(for: "k", now: 0), "t2")
        cache.forget("t2", for: "k")
        XCTAssertNil(cache.token(for: "k", now: 0))
    }

    func test_location_is_resolved_against_the_request_url() {
        let base = UpstreamURL("https://registry.example:5000/v2/a/blobs/sha256:1?x=y")!
        XCTAssertEqual(RegistryFetch.resolve("https://storage.example/blob?sig=1", against: base), UpstreamURL("https://storage.example/blob?sig=1"))
        XCTAssertEqual(RegistryFetch.resolve("//cdn.example/b", against: base), UpstreamURL("https://cdn.example/b"))
        XCTAssertEqual(RegistryFetch.resolve("/v2/other", against: base), UpstreamURL("https://registry.example:5000/v2/other"))
        XCTAssertEqual(RegistryFetch.resolve("sibling", against: base), UpstreamURL("https://registry.example:5000/v2/a/blobs/sibling"))
    }

    func test_request_head_has_host_length_and_agent() {
        let request = UpstreamRequest(method: "PUT", url: UpstreamURL("http://h:8080/x?y")!, headers: [("Accept", "*/*")], body: Array("abc".utf8))
        XCTAssertEqual(String(decoding: request.serialized(userAgent: "berth"), as: UTF8.self),
                       "PUT /x?y HTTP/1.1\r\nHost: h:8080\r\nAccept: */*\r\nUser-Agent: berth\r\nContent-Length: 3\r\n\r\nabc")
        let get = UpstreamRequest(url: UpstreamURL("https://h/")!, headers: [("user-agent", "me")])
        XCTAssertEqual(String(decoding: get.serialized(userAgent: "berth"), as: UTF8.self), "GET / HTTP/1.1\r\nHost: h\r\nuser-agent: me\r\n\r\n")
    }

    func test_percent_encoding_keeps_only_unreserved_characters() {
        XCTAssertEqual(percentEncoded("repository:library/alpine:pull,push"), "repository%3Alibrary%2Falpine%3Apull%2Cpush")
        XCTAssertEqual(percentEncoded("a-b_c.d~e"), "a-b_c.d~e")
    }
}
