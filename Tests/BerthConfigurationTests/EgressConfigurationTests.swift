@testable import BerthConfiguration
import BerthUpstream
import XCTest

/// The `egress` keys and the proxy variables of the environment: the keys win, the variables fill in,
/// and an unusable URL is refused naming its key or variable, never showing its password.
final class EgressConfigurationTests: XCTestCase {
    func test_without_the_keys_the_environment_variables_route_the_upstreams() throws {
        let config = try load(environment: ["HTTPS_PROXY": "http://squid:3128", "no_proxy": "registry.corp"])
        XCTAssertEqual(config.egress.httpsProxy, ProxyEndpoint(host: "squid", port: 3128))
        XCTAssertNil(config.egress.httpProxy)
        XCTAssertNil(config.registryOptions.egress.proxy(for: UpstreamURL("https://registry.corp:443/")!))
        XCTAssertEqual(config.registryOptions.egress.proxy(for: UpstreamURL("https://ghcr.io:443/")!),
                       ProxyEndpoint(host: "squid", port: 3128))
    }

    func test_the_keys_win_over_the_environment_and_a_list_is_a_noproxy() throws {
        let text = "egress:\n  proxy: http://ops:old@proxy.corp:8080\n  proxyusername: ci\n  proxypassword: new\n"
            + "  noproxy: [.corp, 10.0.0.0/8]\n"
        let config = try load(text, environment: ["HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"])
        XCTAssertEqual(config.egress.httpsProxy, ProxyEndpoint(host: "proxy.corp", port: 8080, username: "ci", password: "new"))
        XCTAssertEqual(config.egress.httpProxy, config.egress.httpsProxy)
        XCTAssertEqual(config.egressNoProxy, ".corp,10.0.0.0/8")
        XCTAssertNotNil(config.egress.proxy(for: UpstreamURL("https://ghcr.io:443/")!), "NO_PROXY=* is not read")
        XCTAssertNil(config.egress.proxy(for: UpstreamURL("http://10.2.3.4:5000/")!))
    }

    func test_an_unusable_proxy_url_is_refused_naming_where_it_came_from_without_its_password() {
        let file = refusal("egress:\n  proxy: https://ops:hunter2@proxy:3128\n")
        XCTAssertTrue(file.hasPrefix("test.yml: egress.proxy: "), file)
        XCTAssertFalse(file.contains("hunter2"), file)
        let variable = refusal(environment: ["http_proxy": "socks5://ops:hunter2@proxy:1080"])
        XCTAssertTrue(variable.hasPrefix("environment http_proxy: "), variable)
        XCTAssertFalse(variable.contains("hunter2"), variable)
    }
}
