import BerthHTTP
import BerthMirror
import BerthStorage

/// One upstream registry as the mirror uses it: where its repositories live in the local store, and the
/// client that fetches from it.
final class MirrorUpstream {
    let host: String
    let registry: RegistryUpstream
    /// Local repositories of a non-default upstream are kept under `<host>/`, so that `ghcr.io/x` and
    /// Docker Hub's `x` never share a cache entry.
    let localPrefix: String
    /// Docker Hub serves official images under `library/`: a one-component name means `library/<name>`.
    let isDockerHub: Bool

    init(host: String, registry: RegistryUpstream, isDefault: Bool) {
        self.host = host
        self.registry = registry
        localPrefix = isDefault ? "" : host + "/"
        isDockerHub = Self.dockerHubHosts.contains(registry.baseURL.host) || Self.dockerHubHosts.contains(host)
    }

    static let dockerHubHosts: Set<String> = ["docker.io", "registry-1.docker.io", "index.docker.io", "registry.hub.docker.com"]

    /// The repository as the upstream names it and as the local store keeps it.
    func names(for requested: RepositoryName) -> (remote: String, local: RepositoryName)? {
        var remote = requested.value
        if isDockerHub && !remote.utf8.contains(UInt8(ascii: "/")) { remote = "library/" + remote }
        guard let local = RepositoryName(localPrefix + remote) else { return nil }
        return (remote, local)
    }
}

/// A request's repository resolved against the mirror's upstreams.
struct MirroredRepository {
    let upstream: MirrorUpstream
    let remote: String
    let local: RepositoryName
}
