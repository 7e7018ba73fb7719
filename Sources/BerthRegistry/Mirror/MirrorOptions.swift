/// How the registry mirrors upstream registries (`proxy:` and `mirrors:` in the configuration).
public struct MirrorOptions {
    public struct Upstream {
        /// The registry host clients name in containerd's `ns=` parameter (`docker.io`, `ghcr.io`).
        public var host: String
        public var url: String
        public var username: String?
        public var password: String?

        public init(host: String, url: String, username: String? = nil, password: String? = nil) {
            self.host = host
            self.url = url
            self.username = username
            self.password = password
        }
    }

    /// Every upstream; the first is the default one (requests without `ns=`).
    public var upstreams: [Upstream] = []
    /// Only `proxy.remoteurl`, no `mirrors:` map: every `ns=` is served from it, as registry:2 ignores `ns`.
    public var proxyOnly = false
    /// The default of `proxy.ttl`.
    public static let defaultTagTTLSeconds: Double = 300

    /// A cached tag is served without asking the upstream for this long after it was fetched or re-validated.
    public var tagTTLSeconds = MirrorOptions.defaultTagTTLSeconds
    /// CA bundle for the upstreams' certificates; nil uses the system store.
    public var caFile: String?
    public var connectTimeoutSeconds: Double = 10
    public var readTimeoutSeconds: Double = 60
    /// Blob store size past which least recently used blobs are evicted; nil: unbounded.
    public var cacheMaxBytes: Int64?
    /// Set, this mirror is a node of a fleet that fetches each cold blob from the upstream once.
    public var cluster: ClusterOptions?

    public init() {}
}
