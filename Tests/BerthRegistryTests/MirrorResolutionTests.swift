import BerthHTTP
@testable import BerthRegistry
import BerthStorage
import XCTest

final class MirrorResolutionTests: XCTestCase {
    private func mirror(_ upstreams: [(String, String)], proxyOnly: Bool = false) throws -> Mirror {
        var options = MirrorOptions()
        options.upstreams = upstreams.map { MirrorOptions.Upstream(host: $0.0, url: $0.1) }
        options.proxyOnly = proxyOnly
        return try Mirror(options: options, loop: EventLoop())
    }

    private func resolve(_ mirror: Mirror, _ name: String, _ query: String = "") throws -> (remote: String, local: String, host: String) {
        let resolved = try mirror.resolve(RepositoryName(name)!, query: Substring(query))
        return (resolved.remote, resolved.local.value, resolved.upstream.host)
    }

    func test_docker_hub_official_images_gain_the_library_prefix_remotely_and_locally() throws {
        let hub = try mirror([("registry-1.docker.io", "https://registry-1.docker.io")])
        let official = try resolve(hub, "alpine")
        XCTAssertEqual(official.remote, "library/alpine")
        XCTAssertEqual(official.local, "library/alpine")
        let user = try resolve(hub, "bitnami/redis")
        XCTAssertEqual(user.remote, "bitnami/redis")
        XCTAssertEqual(user.local, "bitnami/redis")
    }

    func test_other_registries_keep_one_component_names() throws {
        let other = try mirror([("127.0.0.1", "http://127.0.0.1:5001")])
        XCTAssertEqual(try resolve(other, "alpine").remote, "alpine")
    }

    func test_containerd_ns_chooses_the_upstream_and_non_default_ones_are_cached_under_their_host() throws {
        let both = try mirror([("docker.io", "https://registry-1.docker.io"), ("ghcr.io", "https://ghcr.io")])
        let ghcr = try resolve(both, "org/app", "ns=ghcr.io")
        XCTAssertEqual(ghcr.host, "ghcr.io")
        XCTAssertEqual(ghcr.remote, "org/app")
        XCTAssertEqual(ghcr.local, "ghcr.io/org/app")
        let hub = try resolve(both, "library/busybox", "ns=docker.io")
        XCTAssertEqual(hub.host, "docker.io")
        XCTAssertEqual(hub.local, "library/busybox")
        XCTAssertEqual(try resolve(both, "library/busybox").host, "docker.io", "no ns= means the default upstream")
    }

    func test_docker_io_names_a_mirror_configured_by_its_registry_host() throws {
        let hub = try mirror([("registry-1.docker.io", "https://registry-1.docker.io")])
        XCTAssertEqual(try resolve(hub, "alpine", "ns=docker.io").remote, "library/alpine")
    }

    func test_an_unknown_ns_is_name_unknown() throws {
        let one = try mirror([("docker.io", "https://registry-1.docker.io")])
        XCTAssertThrowsError(try resolve(one, "org/app", "ns=quay.io")) { error in
            XCTAssertEqual((error as? RegistryError)?.code, .nameUnknown)
        }
    }

    func test_an_upstream_on_a_port_is_chosen_by_host_and_port_and_cached_as_host_underscore_port() throws {
        let two = try mirror([("127.0.0.1", "http://127.0.0.1:5101"), ("127.0.0.1:5102", "http://127.0.0.1:5102")])
        let ported = try resolve(two, "org/tool", "ns=127.0.0.1%3A5102")
        XCTAssertEqual(ported.host, "127.0.0.1:5102")
        XCTAssertEqual(ported.remote, "org/tool")
        XCTAssertEqual(ported.local, "127.0.0.1_5102/org/tool")
        // The default upstream (proxy.remoteurl, named by its URL's host) answers to its host and port.
        let byItself = try resolve(two, "org/tool", "ns=127.0.0.1:5101")
        XCTAssertEqual(byItself.host, "127.0.0.1:5101")
        XCTAssertEqual(byItself.local, "org/tool")
        XCTAssertThrowsError(try resolve(two, "org/tool", "ns=127.0.0.1:5103")) { error in
            XCTAssertEqual((error as? RegistryError)?.code, .nameUnknown, "with mirrors:, an unknown ns is 404")
        }
    }

    func test_a_hostile_ns_is_unknown_or_the_default_never_a_trap() throws {
        let two = try mirror([("127.0.0.1", "http://127.0.0.1:5101"), ("127.0.0.1:5102", "http://127.0.0.1:5102")])
        for ns in ["127.0.0.1:99999999999999999999999", "127.0.0.1:-1", "127.0.0.1:", ":5102", "%ZZ%", "127.0.0.1%00:5102",
                   String(repeating: "a", count: 16_000), "127.0.0.1_5102", "../127.0.0.1:5102"] {
            XCTAssertThrowsError(try resolve(two, "org/tool", "ns=" + ns), ns) { error in
                XCTAssertEqual((error as? RegistryError)?.code, .nameUnknown, ns)
            }
        }
        XCTAssertEqual(try resolve(two, "org/tool", "ns=").host, "127.0.0.1:5101", "an empty ns is no ns")
        XCTAssertEqual(try resolve(two, "org/tool", "ns=127.0.0.1:5102&ns=quay.io").host, "127.0.0.1:5102", "the first ns counts")
    }

    func test_cache_prefixes_stay_inside_the_repository_grammar_and_cannot_collide() {
        XCTAssertEqual(ConfiguredUpstream.cachePrefix(for: "ghcr.io"), "ghcr.io")
        XCTAssertEqual(ConfiguredUpstream.cachePrefix(for: "Registry.Corp:5000"), "registry.corp_5000")
        XCTAssertEqual(ConfiguredUpstream.cachePrefix(for: "localhost:5000"), "localhost_5000")
        // A key with its own `_` would share a prefix with host:port; an IPv6 literal has no name component.
        XCTAssertNil(ConfiguredUpstream.cachePrefix(for: "registry_5000"))
        XCTAssertNil(ConfiguredUpstream.cachePrefix(for: "[::1]:5000"))
        XCTAssertNil(ConfiguredUpstream.cachePrefix(for: "host:50x"))
        XCTAssertNil(ConfiguredUpstream.cachePrefix(for: "host:"))
        XCTAssertNil(ConfiguredUpstream.cachePrefix(for: "host:123456"))
        XCTAssertNil(ConfiguredUpstream.cachePrefix(for: "a/b"))
        XCTAssertThrowsError(try mirror([("docker.io", "https://registry-1.docker.io"), ("[::1]:5000", "http://[::1]:5000")]),
                             "a mirrors: key that cannot name a cache directory stops the start")
    }

    func test_proxy_remoteurl_alone_answers_every_ns_as_registry_2_does() throws {
        let alone = try mirror([("127.0.0.1", "http://127.0.0.1:5101")], proxyOnly: true)
        XCTAssertEqual(try resolve(alone, "team/app", "ns=quay.io").local, "team/app")
        XCTAssertEqual(try resolve(alone, "team/app", "ns=docker.io").local, "team/app")
        // A lone mirrors: entry is named by its key, not by its URL's host and port: unknown ns stay 404.
        let entry = try mirror([("127.0.0.1:5102", "http://127.0.0.1:5102")])
        XCTAssertThrowsError(try resolve(entry, "team/app", "ns=quay.io"))
        // Even when the key is exactly its URL's host (`ghcr.io: https://ghcr.io`).
        let keyedByHost = try mirror([("ghcr.io", "https://ghcr.io")])
        XCTAssertThrowsError(try resolve(keyedByHost, "team/app", "ns=quay.io"))
    }

    func test_a_mirrors_entry_for_the_default_registry_shares_its_cache_names() throws {
        let same = try mirror([("127.0.0.1", "http://127.0.0.1:5101"), ("docker.io", "http://127.0.0.1:5101/")])
        XCTAssertEqual(try resolve(same, "library/app", "ns=docker.io").local, "library/app")
        XCTAssertEqual(try resolve(same, "library/app").local, "library/app")
        let hub = try mirror([("registry-1.docker.io", "https://registry-1.docker.io"), ("docker.io", "https://index.docker.io")])
        XCTAssertEqual(try resolve(hub, "alpine", "ns=docker.io").local, "library/alpine")
        XCTAssertEqual(try resolve(hub, "alpine").local, "library/alpine")
        // Another registry keeps its own names.
        let other = try mirror([("127.0.0.1", "http://127.0.0.1:5101"), ("ghcr.io", "http://127.0.0.1:5102")])
        XCTAssertEqual(try resolve(other, "org/app", "ns=ghcr.io").local, "ghcr.io/org/app")
    }
}
