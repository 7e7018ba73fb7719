import BerthHTTP
@testable import BerthRegistry
import BerthStorage
import XCTest

final class MirrorResolutionTests: XCTestCase {
    private func mirror(_ upstreams: [(String, String)]) throws -> Mirror {
        var options = MirrorOptions()
        options.upstreams = upstreams.map { MirrorOptions.Upstream(host: $0.0, url: $0.1) }
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
}
