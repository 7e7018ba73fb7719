import BerthHTTP
import BerthRegistry
import BerthUpstream

/// The option types of the modules that serve, filled from the configuration.
extension Configuration {
    public var httpLimits: HTTPLimits {
        var limits = HTTPLimits()
        limits.maxConnectionsPerClient = maxConnectionsPerClient
        limits.progress.windowMilliseconds = UInt64(progressWindow * 1000)
        return limits
    }

    /// What a worker's registry runs with; the worker's index and metrics directory are the supervisor's to set.
    public var registryOptions: RegistryOptions {
        var options = RegistryOptions()
        options.deleteEnabled = deleteEnabled
        options.gcIntervalSeconds = gcInterval
        options.gcDelaySeconds = gcDelay
        options.uploadMaxAgeSeconds = uploadMaxAgeSeconds
        if !krakenNamespaces.isEmpty { options.krakenNamespaces = krakenNamespaces }
        options.krakenFetchTimeoutSeconds = krakenFetchTimeout
        options.maxDownloadsPerWorker = proxyMaxDownloads
        options.mirror = mirrorOptions
        options.egress = egress
        if let htpasswdRealm, let htpasswdPath { options.htpasswd = HtpasswdOptions(realm: htpasswdRealm, path: htpasswdPath) }
        options.tokenAuth = tokenAuthOptions
        options.builtinIssuer = builtinIssuerOptions
        return options
    }

    /// The mirror's options when a `proxy.remoteurl` or `mirrors` is configured: the default upstream first
    /// (`proxy.remoteurl`, else the `docker.io` mirror, else the first by name).
    public var mirrorOptions: MirrorOptions? {
        var upstreams = mirrors
        if let proxyRemoteURL {
            let host = UpstreamURL(proxyRemoteURL)?.host ?? proxyRemoteURL
            upstreams.insert(MirrorOptions.Upstream(host: host, url: proxyRemoteURL, username: proxyUsername, password: proxyPassword), at: 0)
        } else if let dockerHub = upstreams.firstIndex(where: { $0.host == "docker.io" }) {
            upstreams.insert(upstreams.remove(at: dockerHub), at: 0)
        }
        guard !upstreams.isEmpty else { return nil }
        var options = MirrorOptions()
        options.upstreams = upstreams
        options.proxyOnly = proxyRemoteURL != nil && mirrors.isEmpty
        options.tagTTLSeconds = proxyTTL
        options.caFile = proxyCAFile
        if let proxyTimeout {
            options.connectTimeoutSeconds = proxyTimeout
            options.readTimeoutSeconds = proxyTimeout
        }
        options.cacheMaxBytes = proxyCacheMaxSize
        options.cluster = clusterOptions
        return options
    }
}
