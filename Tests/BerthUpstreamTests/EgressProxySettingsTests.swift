@testable import BerthUpstream
import XCTest

/// NO_PROXY read as Go's httpproxy reads it (hosts, `.domain` and `domain` suffixes, `*`, CIDR blocks,
/// address literals, `host:port`), and which proxy each origin goes through, from the keys or the environment.
final class EgressProxySettingsTests: XCTestCase {
    private func direct(_ list: String, _ host: String, _ port: Int = 443) -> Bool {
        NoProxyList(list).matches(host: host, port: port)
    }

    func test_a_name_matches_itself_and_every_name_below_it() {
        XCTAssertTrue(direct("example.com", "example.com"))
        XCTAssertTrue(direct("example.com", "registry.example.com"))
        XCTAssertTrue(direct("Example.COM", "a.b.example.com."))
        XCTAssertFalse(direct("example.com", "notexample.com"))
        XCTAssertFalse(direct("example.com", "example.com.evil"))
    }

    func test_a_leading_dot_or_star_dot_matches_only_the_names_below() {
        XCTAssertTrue(direct(".example.com", "registry.example.com"))
        XCTAssertFalse(direct(".example.com", "example.com"), "as in Go")
        XCTAssertTrue(direct("*.example.com", "registry.example.com"))
        XCTAssertFalse(direct("*.example.com", "example.com"), "Go strips the `*` and keeps the dot")
    }

    func test_a_star_alone_matches_everything_and_a_star_inside_a_list_too() {
        XCTAssertTrue(direct("*", "ghcr.io"))
        XCTAssertTrue(direct("internal, *", "10.1.2.3"))
    }

    func test_cidr_blocks_match_address_literals_only() {
        XCTAssertTrue(direct("10.0.0.0/8", "10.200.3.4"))
        XCTAssertFalse(direct("10.0.0.0/8", "11.0.0.1"))
        XCTAssertTrue(direct("192.168.1.0/23", "192.168.0.77"))
        XCTAssertFalse(direct("192.168.2.0/23", "192.168.1.1"))
        XCTAssertTrue(direct("fd00::/8", "fd12:3456::1"))
        XCTAssertFalse(direct("fd00::/8", "fe80::1"))
        XCTAssertFalse(direct("10.0.0.0/8", "ten.example"), "a block never matches a name")
        XCTAssertFalse(direct("10.0.0.0/8", "::ffff:10.0.0.1"), "v4 blocks do not match v6 literals")
    }

    func test_address_literals_and_ports() {
        XCTAssertTrue(direct("127.0.0.1", "127.0.0.1", 5000))
        XCTAssertTrue(direct("127.0.0.1:5000", "127.0.0.1", 5000))
        XCTAssertFalse(direct("127.0.0.1:5000", "127.0.0.1", 5001))
        XCTAssertTrue(direct("::1", "::1"))
        XCTAssertTrue(direct("[::1]:5000", "::1", 5000))
        XCTAssertFalse(direct("[::1]:5000", "::1", 443))
        XCTAssertTrue(direct("registry.corp:5000", "registry.corp", 5000))
        XCTAssertFalse(direct("registry.corp:5000", "registry.corp", 443))
    }

    func test_loopback_is_not_exempt_by_itself_and_malformed_entries_are_skipped() {
        XCTAssertFalse(direct("", "localhost"))
        XCTAssertFalse(direct("", "127.0.0.1"))
        XCTAssertFalse(direct("10.0.0.0/99, :5000, [::1, a:b", "10.0.0.1", 5000))
        XCTAssertTrue(direct(" , ,\tlocalhost  127.0.0.0/8", "127.0.0.1"), "spaces and commas both separate")
        XCTAssertTrue(NoProxyList(" , ").isEmpty)
    }

    func test_the_configured_proxy_wins_over_the_environment_and_serves_both_schemes() throws {
        let environment = ["HTTPS_PROXY": "http://env:1", "HTTP_PROXY": "http://env:2", "NO_PROXY": "ghcr.io"]
        let settings = try EgressProxySettings(url: "http://squid:3128", username: nil, password: nil, noProxy: "quay.io",
                                               environment: environment)
        XCTAssertEqual(settings.httpsProxy, ProxyEndpoint(host: "squid", port: 3128))
        XCTAssertEqual(settings.httpProxy, ProxyEndpoint(host: "squid", port: 3128))
        XCTAssertEqual(settings.proxy(for: UpstreamOrigin(isTLS: true, host: "ghcr.io", port: 443)), ProxyEndpoint(host: "squid", port: 3128),
                       "the configured noproxy replaces NO_PROXY")
        XCTAssertNil(settings.proxy(for: UpstreamOrigin(isTLS: true, host: "quay.io", port: 443)))
    }

    func test_the_environment_gives_each_scheme_its_proxy_upper_case_first() throws {
        let environment = ["https_proxy": "http://lower:1", "HTTPS_PROXY": "upper:3128", "http_proxy": "http://plain:8080",
                           "no_proxy": ".corp,10.0.0.0/8"]
        let settings = try EgressProxySettings(url: nil, username: nil, password: nil, noProxy: nil, environment: environment)
        XCTAssertEqual(settings.httpsProxy, ProxyEndpoint(host: "upper", port: 3128), "a URL without a scheme is http")
        XCTAssertEqual(settings.httpProxy, ProxyEndpoint(host: "plain", port: 8080))
        XCTAssertEqual(settings.proxy(for: UpstreamOrigin(isTLS: false, host: "a.corp", port: 80)), nil)
        XCTAssertEqual(settings.proxy(for: UpstreamOrigin(isTLS: true, host: "10.1.1.1", port: 443)), nil)
        XCTAssertEqual(settings.proxy(for: UpstreamOrigin(isTLS: true, host: "docker.io", port: 443)), ProxyEndpoint(host: "upper", port: 3128))
        XCTAssertTrue(try EgressProxySettings(url: nil, username: nil, password: nil, noProxy: nil, environment: [:]).isEmpty)
    }

    func test_credentials_in_the_url_or_in_the_keys_and_never_in_the_description() throws {
        let inURL = try ProxyEndpoint(url: "http://ops:p%40ss@proxy.corp:3128")
        XCTAssertEqual(inURL.authorization, "Basic b3BzOnBAc3M=")
        XCTAssertEqual(inURL.description, "proxy.corp:3128")
        let keys = try ProxyEndpoint(url: "http://ops:old@proxy.corp:3128", username: "ci", password: "new")
        XCTAssertEqual(keys.authorization, "Basic Y2k6bmV3")
        XCTAssertEqual(try ProxyEndpoint(url: "http://proxy.corp").port, 80)
        XCTAssertEqual(try ProxyEndpoint(url: "HTTP://Proxy.Corp:3128"), ProxyEndpoint(host: "proxy.corp", port: 3128))
        XCTAssertNil(try ProxyEndpoint(url: "http://proxy.corp:3128/").authorization)
    }

    func test_unusable_proxy_urls_are_refused_without_their_password() {
        for text in ["https://ops:secret@proxy:3128", "socks5://proxy:1080", "http://proxy:3128/path", "http://:3128", "ftp://ops:secret@p:21"] {
            XCTAssertThrowsError(try ProxyEndpoint(url: text), text) { error in
                XCTAssertFalse("\(error)".contains("secret"), "\(error)")
            }
        }
        XCTAssertThrowsError(try EgressProxySettings(url: nil, username: nil, password: nil, noProxy: nil,
                                                     environment: ["HTTPS_PROXY": "https://p:1"])) { error in
            XCTAssertTrue("\(error)".hasPrefix("environment HTTPS_PROXY: "), "\(error)")
        }
    }
}
