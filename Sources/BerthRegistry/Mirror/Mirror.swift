import BerthHTTP
import BerthUpstream
import BerthStorage

/// The pull-through mirror's state in one process: its upstreams and the manifest fetches clients are
/// waiting on. Loop-confined.
final class Mirror {
    let options: MirrorOptions
    let policy: MirrorCachePolicy
    let upstreams: [ConfiguredUpstream]
    /// The other nodes of the fleet (`cluster.*`), if any.
    let fleet: Fleet?
    /// Clients waiting on one manifest fetch, by cache name and reference.
    var manifestWaiters: [String: [(ManifestRefresh) -> Void]] = [:]
    /// When this process last recorded a blob's use on disk (for eviction): at most once a few seconds each.
    private var usesRecorded: [Digest: UInt64] = [:]

    /// registry:2's proxy: with `proxy.remoteurl` alone (no `mirrors:`) its one upstream answers whatever
    /// `ns=` names, as registry:2 ignores it. Configuration names that upstream by its URL's host and a
    /// `mirrors:` entry by its key, which is how the two are told apart here.
    let answersEveryNamespace: Bool
    /// Loop milliseconds of each upstream's last `/v2/` check (by index), and which are in flight.
    var lastChecked: [UInt64]
    var checking: Set<Int> = []

    init(options: MirrorOptions, loop: EventLoop, egress: EgressProxySettings = EgressProxySettings()) throws {
        self.options = options
        policy = MirrorCachePolicy(options)
        var configuration = UpstreamClient.Configuration()
        configuration.tls.caFile = options.caFile
        configuration.connectTimeoutMilliseconds = UInt64(options.connectTimeoutSeconds * 1000)
        configuration.readTimeoutMilliseconds = UInt64(options.readTimeoutSeconds * 1000)
        configuration.userAgent = "berth-mirror"
        configuration.egress = egress
        let client = try UpstreamClient(loop: loop, configuration: configuration)
        var upstreams: [ConfiguredUpstream] = []
        for upstream in options.upstreams {
            guard let url = UpstreamURL(upstream.url) else { throw UpstreamError.invalidURL(upstream.url) }
            upstreams.append(try ConfiguredUpstream(configured: upstream.host, url: url, username: upstream.username,
                                                password: upstream.password, client: client,
                                                isDefault: upstreams.isEmpty, sameCacheAs: upstreams.first))
        }
        self.upstreams = upstreams
        fleet = try options.cluster.map { try Fleet(options: $0, loop: loop, readTimeoutSeconds: options.readTimeoutSeconds) }
        answersEveryNamespace = options.proxyOnly
        lastChecked = Array(repeating: 0, count: upstreams.count)
    }

    /// Records a cache hit on disk for least-recently-used eviction, when the policy says it is due.
    func recordUse(_ digest: Digest, store: RegistryStore, now: UInt64) {
        guard policy.recordsUse(lastRecorded: usesRecorded[digest], now: now) else { return }
        if usesRecorded.count >= 100_000 { usesRecorded.removeAll(keepingCapacity: true) }
        usesRecorded[digest] = now
        store.markBlobUsed(digest)
    }

    /// The upstream a request means: containerd names it with `ns=<host>` or `ns=<host>:<port>`; without it,
    /// the default one. An `ns` that no upstream answers to is 404, so that containerd falls back to the
    /// registry itself, unless this is a plain `proxy.remoteurl` mirror (`answersEveryNamespace`).
    func resolve(_ name: RepositoryName, query: Substring) throws -> MirrorTarget {
        let upstream: ConfiguredUpstream
        if let host = QueryParameters(query)["ns"], !host.isEmpty {
            let key = host.lowercased()
            guard let named = upstreams.first(where: { $0.namespaces.contains(key) }) ?? Self.dockerHubAlias(key, in: upstreams)
                    ?? (answersEveryNamespace ? upstreams[0] : nil) else {
                throw RegistryError(.nameUnknown, "this mirror has no upstream for \(host)")
            }
            upstream = named
        } else {
            upstream = upstreams[0]
        }
        guard let names = upstream.names(for: name) else { throw RegistryError(.nameInvalid, "invalid repository name: \(name)") }
        return MirrorTarget(upstream: upstream, remote: names.remote, local: names.local)
    }

    /// containerd says `docker.io`; a mirror configured with `registry-1.docker.io` means the same registry.
    private static func dockerHubAlias(_ host: String, in upstreams: [ConfiguredUpstream]) -> ConfiguredUpstream? {
        guard ConfiguredUpstream.dockerHubHosts.contains(host) else { return nil }
        return upstreams.first { $0.isDockerHub }
    }

    /// The answer for a failed exchange with an upstream (`MirrorCachePolicy.answer`): 503 when it cannot be
    /// reached, 502 otherwise. The body names the upstream by its registry host and the kind of failure
    /// ("connection refused"); the error's description names its address, its token realm or a reason from
    /// its TLS library: that is the `cause`, which the request's log line carries (`failMirrored`).
    static func registryError(_ error: UpstreamError, from upstream: RegistryClient, what: String) -> RegistryError {
        let cause = "fetching \(what) from \(upstream.baseURL): \(error)"
        var answer: RegistryError
        switch MirrorCachePolicy.answer(for: .init(error)) {
        case .unreachable:
            answer = RegistryError(.upstreamUnreachable, "fetching \(what): the upstream \(upstream.name) could not be reached: \(error.reason)")
        case .badAnswer, .unknown, .refused, .rateLimited:
            answer = RegistryError(.upstreamFailed, "fetching \(what): the exchange with the upstream \(upstream.name) failed: \(error.reason)")
        }
        answer.cause = cause
        return answer
    }

    /// The answer for an upstream's non-success status (`MirrorCachePolicy.answer`).
    static func registryError(status: Int, from upstream: RegistryClient, what: String, unknown: RegistryError.Code) -> RegistryError {
        // No registry answers 407 (RFC 9110 §15.5.8): the egress proxy in front of a plain-http upstream does.
        if status == 407, let proxy = upstream.client.configuration.egress.proxy(for: upstream.baseURL) {
            var answer = RegistryError(.upstreamFailed, "fetching \(what): the egress proxy \(proxy) refused the request (407 Proxy Authentication Required)")
            answer.cause = "the egress proxy \(proxy) answered 407 for \(upstream.baseURL)"
            return answer
        }
        var answer: RegistryError
        switch MirrorCachePolicy.answer(for: .status(status)) {
        case .unknown:
            answer = RegistryError(unknown, "\(what) unknown to the upstream \(upstream.name)")
        case .refused:
            answer = RegistryError(unknown, "the upstream \(upstream.name) refused access to \(what) (\(status))")
        case .rateLimited:
            answer = RegistryError(.tooManyRequests, "the upstream \(upstream.name) is rate-limiting (\(what))")
        case .unreachable, .badAnswer:
            answer = RegistryError(.upstreamFailed, "the upstream \(upstream.name) answered \(status) for \(what)")
        }
        answer.cause = "\(upstream.baseURL) answered \(status) for \(what)"
        return answer
    }
}

extension HTTPExchange {
    /// Answers a mirrored request that the upstream failed, with a log line for this request that has the
    /// full cause (the body has only its kind). A 404 is a normal answer and is not logged here.
    func failMirrored(_ error: RegistryError) {
        if error.status >= 500 || error.status == 429 {
            Log.warn("mirror: \(request.method.name) \(request.target): \(error.status) \(error.code.value): \(error.detail ?? error.message)"
                     + (error.cause.map { " (\($0))" } ?? ""))
        }
        fail(error)
    }
}

/// How bringing a cached manifest up to date with the upstream ended.
enum ManifestRefresh {
    /// The cache now holds the upstream's current manifest for the reference.
    case stored
    /// The upstream still has the cached digest under the tag.
    case revalidated
    /// Another worker process refreshed it meanwhile: look in the cache again.
    case elsewhere
    case failed(RegistryError)
}
