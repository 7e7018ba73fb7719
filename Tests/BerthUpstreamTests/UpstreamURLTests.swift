@testable import BerthUpstream
import XCTest

final class UpstreamURLTests: XCTestCase {
    func test_scheme_host_port_and_target() {
        let url = UpstreamURL("https://registry-1.docker.io/v2/library/alpine/manifests/3.20")
        XCTAssertEqual(url?.isTLS, true)
        XCTAssertEqual(url?.host, "registry-1.docker.io")
        XCTAssertEqual(url?.port, 443)
        XCTAssertEqual(url?.target, "/v2/library/alpine/manifests/3.20")
        let plain = UpstreamURL("http://127.0.0.1:5000?x=1")
        XCTAssertEqual(plain?.port, 5000)
        XCTAssertEqual(plain?.target, "/?x=1")
        XCTAssertNil(UpstreamURL("ftp://x"))
        XCTAssertNil(UpstreamURL("http://"))
    }
}

final class UpstreamURLUserinfoTests: XCTestCase {
    func test_userinfo_is_credentials_and_not_part_of_the_host() {
        let url = UpstreamURL("https://ci%2Dbot:p%40ss:w@registry.internal:5443/v2")
        XCTAssertEqual(url?.host, "registry.internal")
        XCTAssertEqual(url?.port, 5443)
        XCTAssertEqual(url?.username, "ci-bot")
        XCTAssertEqual(url?.password, "p@ss:w")
        XCTAssertEqual(url?.target, "/v2")
        // An unescaped `@` in the password: the last one ends the userinfo.
        XCTAssertEqual(UpstreamURL("http://u:a@b@host")?.host, "host")
        XCTAssertEqual(UpstreamURL("http://u:a@b@host")?.password, "a@b")
        XCTAssertNil(UpstreamURL("http://u:bad%zz@host"))
        XCTAssertNil(UpstreamURL("http://u:p@"))
        let bare = UpstreamURL("http://token@host")
        XCTAssertEqual(bare?.username, "token")
        XCTAssertNil(bare?.password)
    }

    func test_description_never_shows_the_userinfo() {
        XCTAssertEqual(UpstreamURL("https://alice:secret@registry.internal/")?.description, "https://registry.internal/")
        XCTAssertEqual(UpstreamURL("http://alice:secret@[::1]:5000/v2")?.description, "http://[::1]:5000/v2")
    }

    func test_ports_out_of_range_are_refused() {
        XCTAssertNil(UpstreamURL("http://host:0"))
        XCTAssertNil(UpstreamURL("http://host:65536"))
        XCTAssertNil(UpstreamURL("http://host:99999999999999999999"))
        XCTAssertEqual(UpstreamURL("http://host:65535")?.port, 65535)
    }

    func test_credentials_go_to_a_token_realm_over_tls_or_on_the_upstreams_host_only() {
        let upstream = UpstreamURL("https://registry.internal:5000")!
        XCTAssertTrue(RegistryClient.mayReceiveCredentials(UpstreamURL("https://auth.example/token")!, upstream: upstream))
        XCTAssertTrue(RegistryClient.mayReceiveCredentials(UpstreamURL("http://Registry.Internal:8080/token")!, upstream: upstream))
        XCTAssertFalse(RegistryClient.mayReceiveCredentials(UpstreamURL("http://auth.example/token")!, upstream: upstream))
        XCTAssertFalse(RegistryClient.mayReceiveCredentials(UpstreamURL("http://registry.internal.evil/token")!, upstream: upstream))
    }
}
