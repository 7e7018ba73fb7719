import BerthRegistry

/// One key of the configuration, written once: its dotted path in the file (as in registry:2's config.yml),
/// which is also its environment name (`http.addr`: `REGISTRY_HTTP_ADDR`, then `BERTH_HTTP_ADDR`), the flag
/// that sets it, if any, and how a value is read into the `Configuration` field it fills. The field's
/// initial value is the key's default.
struct ConfigurationKey {
    /// Reads one value; `name` (the path, an alias or the flag) and `origin` (the file, `environment X` or
    /// `command line`) begin the message of a refusal.
    typealias Reader<Value> = (_ value: Any, _ name: String, _ origin: String) throws -> Value

    let path: String
    /// registry:2's other names for the same setting.
    let aliases: [String]
    /// The flag of `serve` (and of the offline commands, for `--root`) that sets it.
    let flag: String?
    /// A reload cannot change it: the supervisor holds the sockets and the checked root for its whole life.
    let needsRestart: Bool
    let apply: (inout Configuration, Any, _ name: String, _ origin: String) throws -> Void
    /// The field's value as text: what a reload compares, and what the tests hold against conf/berth.yml.
    let describe: (Configuration) -> String

    init<Value>(_ path: String, aliases: [String] = [], flag: String? = nil, needsRestart: Bool = false,
                _ field: WritableKeyPath<Configuration, Value>, _ read: @escaping Reader<Value>) {
        self.path = path
        self.aliases = aliases
        self.flag = flag
        self.needsRestart = needsRestart
        apply = { config, value, name, origin in config[keyPath: field] = try read(value, name, origin) }
        describe = { config in "\(config[keyPath: field])" }
    }

    /// The environment variables that set the key, in the order they are read (the later one wins).
    var environmentNames: [String] {
        ([path] + aliases).flatMap { path in
            ["REGISTRY_", "BERTH_"].map { $0 + path.uppercased().replacingOccurrences(of: ".", with: "_") }
        }
    }

    static func named(_ path: String) -> ConfigurationKey? {
        all.first { $0.path == path || $0.aliases.contains(path) }
    }

    /// Whether some key lies below the section `path`.
    static func lies(below path: String) -> Bool {
        all.contains { ([$0.path] + $0.aliases).contains { $0.hasPrefix(path + ".") } }
    }

    typealias C = Configuration

    static let all: [ConfigurationKey] = [
        ConfigurationKey("http.addr", flag: "--addr", needsRestart: true, \.httpAddr, C.address),
        ConfigurationKey("http.maxconnsperclient", \.maxConnectionsPerClient, C.connectionLimit),
        ConfigurationKey("http.progresswindow", \.progressWindow, C.progressWindow),
        ConfigurationKey("http.tls.certificate", \.tlsCertificate, C.optionalPath),
        ConfigurationKey("http.tls.key", \.tlsKey, C.optionalPath),
        ConfigurationKey("http.tls.clientcas", \.tlsClientCAs, C.paths),
        ConfigurationKey("http.tls.minimumtls", \.tlsMinimumVersion, C.tlsVersion),
        ConfigurationKey("http.tls.ciphersuites", \.tlsCipherSuites, C.cipherSuites),
        ConfigurationKey("storage.filesystem.rootdirectory", flag: "--root", needsRestart: true, \.rootDirectory, C.text),
        ConfigurationKey("storage.filesystem.fsync", \.fsync, C.flag),
        ConfigurationKey("storage.filesystem.directwrites", \.directWrites, C.flag),
        ConfigurationKey("storage.delete.enabled", \.deleteEnabled, C.flag),
        ConfigurationKey("workers", flag: "--workers", needsRestart: true, \.workers, C.count),
        ConfigurationKey("gc.interval", \.gcInterval, C.duration),
        ConfigurationKey("gc.delay", \.gcDelay, C.duration),
        ConfigurationKey("uploads.maxage", aliases: ["storage.maintenance.uploadpurging.age"], \.uploadMaxAgeSeconds, C.duration),
        ConfigurationKey("kraken.namespaces", \.krakenNamespaces, C.krakenNamespaces),
        ConfigurationKey("kraken.fetchtimeout", \.krakenFetchTimeout, C.duration),
        ConfigurationKey("proxy.remoteurl", \.proxyRemoteURL, C.url),
        ConfigurationKey("proxy.username", \.proxyUsername, C.text),
        ConfigurationKey("proxy.password", \.proxyPassword, C.text),
        ConfigurationKey("proxy.ttl", \.proxyTTL, C.duration),
        ConfigurationKey("proxy.cafile", \.proxyCAFile, C.text),
        ConfigurationKey("proxy.timeout", \.proxyTimeout, C.duration),
        ConfigurationKey("proxy.cache.maxsize", \.proxyCacheMaxSize, C.byteSize),
        ConfigurationKey("proxy.maxdownloads", \.proxyMaxDownloads, C.count),
        ConfigurationKey("mirrors", \.mirrors, C.mirrors),
        ConfigurationKey("cluster.peers", \.clusterPeers, C.peerURLs),
        ConfigurationKey("cluster.self", \.clusterSelf, C.optionalPeerURL),
        ConfigurationKey("cluster.timeout", \.clusterTimeout, C.peerTimeout),
        ConfigurationKey("egress.proxy", \.egressProxy, C.proxyURL),
        ConfigurationKey("egress.proxyusername", \.egressProxyUsername, C.text),
        ConfigurationKey("egress.proxypassword", \.egressProxyPassword, C.text),
        ConfigurationKey("egress.noproxy", \.egressNoProxy, C.noProxy),
        ConfigurationKey("log.level", flag: "--log-level", \.logLevel, C.logLevel),
        ConfigurationKey("log.formatter", \.logFormatter, C.logFormatter),
        ConfigurationKey("auth.htpasswd.realm", \.htpasswdRealm, C.text),
        ConfigurationKey("auth.htpasswd.path", \.htpasswdPath, C.text),
        ConfigurationKey("auth.token.realm", \.tokenRealm, C.text),
        ConfigurationKey("auth.token.service", \.tokenService, C.text),
        ConfigurationKey("auth.token.issuer", \.tokenIssuer, C.text),
        ConfigurationKey("auth.token.rootcertbundle", \.tokenRootCertBundle, C.text),
        ConfigurationKey("auth.token.autoredirect", \.tokenAutoRedirect, C.flag),
        ConfigurationKey("auth.builtin.htpasswd", \.builtin.htpasswd, C.optionalPath),
        ConfigurationKey("auth.builtin.key", \.builtin.key, C.optionalPath),
        ConfigurationKey("auth.builtin.service", \.builtin.service, C.optionalText),
        ConfigurationKey("auth.builtin.issuer", \.builtin.issuer, C.optionalText),
        ConfigurationKey("auth.builtin.realm", \.builtin.realm, C.realm),
        ConfigurationKey("auth.builtin.expiration", \.builtin.expiration, C.tokenLifetime),
        ConfigurationKey("auth.builtin.refreshexpiration", \.builtin.refreshExpiration, C.refreshLifetime),
        ConfigurationKey("auth.builtin.groups", \.builtin.groups, C.groups),
        ConfigurationKey("auth.builtin.access", \.builtin.access, C.accessRules),
        ConfigurationKey("ui.enabled", \.uiEnabled, C.flag),
        ConfigurationKey("ui.path", \.uiPath, C.uiPath),
    ]
}
