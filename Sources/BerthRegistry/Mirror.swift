import BerthHTTP
import BerthMirror
import BerthStorage

/// The pull-through mirror's state in one process: its upstreams and the manifest fetches clients are
/// waiting on. Loop-confined.
final class Mirror {
    let options: MirrorOptions
    let upstreams: [MirrorUpstream]
    /// Clients waiting on one manifest fetch, by upstream, repository and reference.
    var manifestWaiters: [String: [(ManifestRefresh) -> Void]] = [:]
    /// When this process last recorded a blob's use on disk (for eviction): at most once a few seconds each.
    private var usesRecorded: [Digest: UInt64] = [:]

    init(options: MirrorOptions, loop: EventLoop) throws {
        self.options = options
        var configuration = UpstreamClient.Configuration()
        configuration.tls.caFile = options.caFile
        configuration.connectTimeoutMilliseconds = UInt64(options.connectTimeoutSeconds * 1000)
        configuration.readTimeoutMilliseconds = UInt64(options.readTimeoutSeconds * 1000)
        configuration.userAgent = "berth-mirror"
        let client = try UpstreamClient(loop: loop, configuration: configuration)
        upstreams = try options.upstreams.enumerated().map { index, upstream in
            guard let url = UpstreamURL(upstream.url) else { throw UpstreamError.invalidURL(upstream.url) }
            let registry = RegistryUpstream(client: client, baseURL: url, username: upstream.username, password: upstream.password)
            return MirrorUpstream(host: upstream.host, registry: registry, isDefault: index == 0)
        }
    }

    /// Records a cache hit on disk for least-recently-used eviction, unless it was recorded just now.
    func recordUse(_ digest: Digest, store: RegistryStore, now: UInt64) {
        guard options.cacheMaxBytes != nil else { return }
        if let last = usesRecorded[digest], now - last < 5_000 { return }
        if usesRecorded.count >= 100_000 { usesRecorded.removeAll(keepingCapacity: true) }
        usesRecorded[digest] = now
        store.markBlobUsed(digest)
    }

    /// The upstream a request means: containerd names it with `ns=<host>`; without it, the default one.
    func resolve(_ name: RepositoryName, query: Substring) throws -> MirroredRepository {
        let upstream: MirrorUpstream
        if let host = QueryParameters(query)["ns"], !host.isEmpty {
            guard let named = upstreams.first(where: { $0.host == host }) ?? Self.dockerHubAlias(host, in: upstreams) else {
                throw RegistryError(.nameUnknown, "this mirror has no upstream for \(host)")
            }
            upstream = named
        } else {
            upstream = upstreams[0]
        }
        guard let names = upstream.names(for: name) else { throw RegistryError(.nameInvalid, "invalid repository name: \(name)") }
        return MirroredRepository(upstream: upstream, remote: names.remote, local: names.local)
    }

    /// containerd says `docker.io`; a mirror configured with `registry-1.docker.io` means the same registry.
    private static func dockerHubAlias(_ host: String, in upstreams: [MirrorUpstream]) -> MirrorUpstream? {
        guard MirrorUpstream.dockerHubHosts.contains(host) else { return nil }
        return upstreams.first { $0.isDockerHub }
    }

    /// The answer for a failed exchange with an upstream: 503 when it cannot be reached, 502 otherwise. The
    /// error names the upstream's address, its token realm or a reason from its TLS library: the log has it,
    /// the body says only which kind of failure it was.
    static func registryError(_ error: UpstreamError, what: String) -> RegistryError {
        Log.warn("upstream: fetching \(what): \(error)")
        switch error {
        case .dnsFailure, .connectionRefused, .connectFailed, .timeout:
            return RegistryError(.unavailable, "fetching \(what): the upstream cannot be reached", message: "upstream registry unreachable")
        default:
            return RegistryError(.unknown, "fetching \(what): the exchange with the upstream failed", message: "upstream registry failed", status: 502)
        }
    }

    /// The answer for an upstream's non-success status.
    static func registryError(status: Int, what: String, unknown: RegistryError.Code) -> RegistryError {
        switch status {
        case 404:
            return RegistryError(unknown, "\(what) unknown to the upstream")
        case 401, 403:
            return RegistryError(unknown, "the upstream refused access to \(what) (\(status))", status: 404)
        case 429:
            return RegistryError(.tooManyRequests, "the upstream is rate-limiting (\(what))")
        default:
            return RegistryError(.unknown, "the upstream answered \(status) for \(what)", message: "upstream registry failed", status: 502)
        }
    }
}

/// How bringing a cached manifest up to date with the upstream ended.
enum ManifestRefresh {
    /// The cache now holds the upstream's current manifest for the reference.
    case stored
    /// Another worker process refreshed it meanwhile: look in the cache again.
    case elsewhere
    case failed(RegistryError)
}
