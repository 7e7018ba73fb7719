import BerthHTTP
import BerthUpstream
import BerthStorage

/// One upstream of the mirror's configuration (`proxy.remoteurl` or a `mirrors:` entry): the `ns=` values
/// that choose it, where its repositories live in the local store, and the `RegistryClient` that fetches
/// from it.
final class ConfiguredUpstream {
    /// The registry host it is configured as: the `mirrors:` key, or `proxy.remoteurl`'s host and port.
    let host: String
    let registry: RegistryClient
    /// containerd's `ns=` values (lowercased) that choose it.
    let namespaces: Set<String>
    /// Local repositories of a non-default upstream are kept under `<host>/` (`host_port/` for a host with a
    /// port, see `cachePrefix`), so that `ghcr.io/x` and Docker Hub's `x` never share a cache entry.
    let localPrefix: String
    /// Docker Hub serves official images under `library/`: a one-component name means `library/<name>`.
    let isDockerHub: Bool

    /// `configured` is the name the configuration gives it; the default upstream (`proxy.remoteurl`) is named by
    /// its URL's host alone there, so it is chosen by its host and port too, as an image reference names it.
    /// An upstream that is the same registry as the default one shares its cache names (`sameCacheAs`).
    init(configured: String, url: UpstreamURL, username: String?, password: String?, client: UpstreamClient,
         isDefault: Bool, sameCacheAs defaultUpstream: ConfiguredUpstream?) throws {
        let named = configured == url.host ? url.hostHeader : configured
        host = named
        registry = RegistryClient(client: client, baseURL: url, name: named, username: username, password: password)
        isDockerHub = Self.dockerHubHosts.contains(url.host.lowercased()) || Self.dockerHubHosts.contains(configured.lowercased())
        var namespaces: Set<String> = [configured.lowercased(), named.lowercased()]
        if isDefault { namespaces.insert("\(url.host):\(url.port)".lowercased()) }
        self.namespaces = namespaces
        if isDefault {
            localPrefix = ""
        } else if let defaultUpstream, defaultUpstream.isSameRegistry(url, dockerHub: isDockerHub) {
            localPrefix = defaultUpstream.localPrefix
        } else {
            guard let prefix = Self.cachePrefix(for: configured) else {
                throw MirrorNameError(description: "mirrors: \(configured) is not a registry host (host or host:port) that can name a cache directory")
            }
            localPrefix = prefix + "/"
        }
    }

    static let dockerHubHosts: Set<String> = ["docker.io", "registry-1.docker.io", "index.docker.io", "registry.hub.docker.com"]

    /// The first component of a non-default upstream's cache names: the host, lowercased, with `:port` written
    /// `_port` (`127.0.0.1:5102` -> `127.0.0.1_5102`), since the registry grammar has no `:` in a repository
    /// name. `_` cannot collide with another registry: the image-reference grammar allows no `_` in a host
    /// (only letters, digits, `-` and `.`), so no host that an `ns=` can name maps to a name with one.
    /// Nil when the result is not a valid name component (an IPv6 literal, a character outside the grammar).
    /// A key with its own `_` is refused, or `a_5000` and `a:5000` would share one.
    static func cachePrefix(for host: String) -> String? {
        var name = host.lowercased()
        guard !name.contains("_"), !name.contains("/") else { return nil }
        if let colon = name.lastIndex(of: ":") {
            let port = name[name.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            name = String(name[..<colon]) + "_" + String(port)
        }
        return RepositoryName(name) == nil ? nil : name
    }

    /// Both are Docker Hub, or both are the same URL (scheme, host, port and path; `description` has no
    /// credentials).
    private func isSameRegistry(_ url: UpstreamURL, dockerHub: Bool) -> Bool {
        if isDockerHub && dockerHub { return true }
        func normalized(_ url: UpstreamURL) -> String {
            let text = url.description.lowercased()
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        return normalized(registry.baseURL) == normalized(url)
    }

    /// The repository as the upstream names it and as the local store keeps it.
    func names(for requested: RepositoryName) -> (remote: String, local: RepositoryName)? {
        var remote = requested.value
        if isDockerHub && !remote.utf8.contains(UInt8(ascii: "/")) { remote = "library/" + remote }
        guard let local = RepositoryName(localPrefix + remote) else { return nil }
        return (remote, local)
    }
}

/// A `mirrors:` key that cannot be a registry host; found at start.
struct MirrorNameError: Error, CustomStringConvertible {
    let description: String
}
