@testable import BerthUpstream
import XCTest

/// The pure parts of the auth flow: challenges, scopes, token answers and cache, redirects, request heads;
/// no socket (RegistryUpstreamTests drives the flow against the Python peer).
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
