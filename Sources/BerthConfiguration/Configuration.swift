import Foundation
import BerthHTTP
import BerthJWT
import BerthRegistry
import BerthStorage
import BerthTLS
import BerthUpstream
import Yams

/// Berth's settings: the defaults below, then the YAML file, then registry:2's `REGISTRY_<SECTION>_<KEY>`
/// and Berth's `BERTH_<SECTION>_<KEY>` environment variables, then flags. Which keys exist, and how each is
/// read, is `ConfigurationKey.all`; a default that an option type also uses is that type's (conf/berth.yml
/// writes the same values, and a unit test holds them together).
public struct Configuration {
    public var httpAddr = "127.0.0.1:5000"
    public var rootDirectory = "./data"
    public var fsync = true
    public var directWrites = true
    public var deleteEnabled = RegistryOptions().deleteEnabled
    public var logLevel = "info"
    /// `text` or `json` (registry:2's `log.formatter`; its `logstash` is not offered).
    public var logFormatter = "text"
    /// Kraken namespaces: patterns (matched anywhere, as Kraken's `backends` do) and their backend.
    /// Empty means every namespace is local.
    public var krakenNamespaces: [KrakenNamespaceOptions] = []
    public var krakenFetchTimeout = RegistryOptions.defaultKrakenFetchTimeoutSeconds
    /// Online garbage collection: every `gcInterval` seconds (0: never), sparing blobs younger than `gcDelay`.
    public var gcInterval = RegistryOptions().gcIntervalSeconds
    public var gcDelay = GarbageCollector.Options.defaultOnlineDelaySeconds
    public var uploadMaxAgeSeconds = GarbageCollector.Options.defaultUploadMaxAgeSeconds
    /// Pull-through mirror: registry:2's `proxy` section, plus upstreams by registry host (`mirrors:`).
    public var proxyRemoteURL: String?
    public var proxyUsername: String?
    public var proxyPassword: String?
    public var proxyTTL = MirrorOptions.defaultTagTTLSeconds
    public var proxyCAFile: String?
    public var proxyTimeout: Double?
    public var proxyCacheMaxSize: Int64?
    public var proxyMaxDownloads = RegistryOptions.defaultMaxDownloadsPerWorker
    public var mirrors: [MirrorOptions.Upstream] = []
    /// A fleet of mirrors (Configuration+Cluster): every node's URL, this node's, and the connect timeout to a peer.
    public var clusterPeers: [String] = []
    public var clusterSelf: String?
    public var clusterTimeout = ClusterOptions.defaultTimeoutSeconds
    /// The egress proxy of upstream connections (`egress.*`, see Configuration+Egress); `egress` is what
    /// they and the environment's `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` make together, set by `load`.
    public var egressProxy: String?
    public var egressProxyUsername: String?
    public var egressProxyPassword: String?
    public var egressNoProxy: String?
    public var egress = EgressProxySettings()
    /// Connections one client address may hold open in a worker (0: no limit), and the window in which a
    /// peer must move 64 KiB of a body or an answer (or what is left of a smaller one).
    public var maxConnectionsPerClient = HTTPLimits().maxConnectionsPerClient
    public var progressWindow = Double(ProgressRule().windowMilliseconds) / 1000
    /// registry:2's `auth.htpasswd`: both set, or neither (then no authentication).
    public var htpasswdRealm: String?
    public var htpasswdPath: String?
    /// registry:2's `auth.token` (Configuration+Token); `tokenTrust` is the rootcertbundle, read by `load`.
    public var tokenRealm: String?
    public var tokenService: String?
    public var tokenIssuer: String?
    public var tokenRootCertBundle: String?
    public var tokenAutoRedirect = false
    public var tokenTrust: TokenTrust?
    /// Berth's `auth.builtin` (Configuration+BuiltinIssuer): the built-in token issuer.
    public var builtin = BuiltinIssuerSettings()
    /// The web UI (BerthUI) under `uiPath` on the registry's port.
    public var uiEnabled = true
    public var uiPath = "/ui"
    /// Worker processes sharing the port; the number of cores unless set.
    public var workers = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    /// registry:2's `http.tls` (Configuration+TLS): TLS on http.addr when the certificate and key are set.
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var tlsClientCAs: [String] = []
    public var tlsMinimumVersion = TLSProtocolVersion.tls1_2
    public var tlsCipherSuites = TLSCipherSuites.defaultNames

    public init() {}

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Keys whose whole subtree is understood as a unit.
    private static let knownSections: Set<String> = ["version"]

    /// Variables with registry:2's prefix that belong to other tools: podman, skopeo and buildah read
    /// `REGISTRY_AUTH_FILE` as the path of their credentials file.
    private static let foreignVariables: Set<String> = ["REGISTRY_AUTH_FILE"]

    /// Reads `file` (if given), then the environment, then `flags` (by name, `--addr`: see
    /// `ConfigurationKey.flag`). Returns the configuration and a warning per ignored key; throws, naming every
    /// such key, when a value is invalid or asks for something Berth does not provide (`RefusedKey`).
    public static func load(file: String?, environment: [String: String],
                            flags: [String: String] = [:]) throws -> (Configuration, [String]) {
        guard let file else { return try load(text: nil, named: "", environment: environment, flags: flags) }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Invalid(description: "\(file): cannot read the configuration file")
        }
        return try load(text: text, named: file, environment: environment, flags: flags)
    }

    /// The same, from the file's text (`file` names it in messages); the fuzzer (Tests/fuzz) calls this.
    public static func load(text: String?, named file: String, environment: [String: String],
                            flags: [String: String] = [:]) throws -> (Configuration, [String]) {
        var config = Configuration()
        var warnings: [String] = []
        var refusals: [String] = []
        if let text {
            let node: Node?
            do {
                node = try Yams.compose(yaml: text)
            } catch {
                throw Invalid(description: "\(file): not valid YAML: \(error)")
            }
            // Yams traps on a mapping key that is not a scalar (`? [a, b]: c`), so such a file is refused first.
            if let node, Self.hasComplexKey(node) {
                throw Invalid(description: "\(file): not valid here: every key of a mapping must be a plain string")
            }
            if let document = node.map({ Constructor.default.any(from: $0) }) {
                guard let root = document as? [String: Any] else {
                    throw Invalid(description: "\(file): the top level must be a mapping of keys")
                }
                apply(root, prefix: "", to: &config, file: file, warnings: &warnings, refusals: &refusals)
            }
        }
        for prefix in ["REGISTRY_", "BERTH_"] {
            for (name, value) in environment.sorted(by: { $0.key < $1.key })
            where name.hasPrefix(prefix) && !foreignVariables.contains(name) {
                let path = name.dropFirst(prefix.count).lowercased().replacingOccurrences(of: "_", with: ".")
                let origin = "environment \(name)"
                if let key = ConfigurationKey.named(path) {
                    do { try key.apply(&config, value, path, origin) } catch { refusals.append("\(error)") }
                } else if let (rule, at) = RefusedKey.rule(covering: path) {
                    // The value as the rule sees it in a file: nested below the key the rule matched.
                    let below = path.split(separator: ".").dropFirst(at.split(separator: ".").count)
                    let nested = below.reversed().reduce(value as Any) { [String($1): $0] }
                    if rule.asks(nested) { refusals.append("\(origin): \(at): \(rule.instead)") }
                }
            }
        }
        if let problem = config.tlsProblem { refusals.append("\(file.isEmpty ? "configuration" : file): \(problem)") }
        do { config.egress = try egressSettings(config, environment: environment) } catch { refusals.append("\(error)") }
        if (config.htpasswdRealm == nil) != (config.htpasswdPath == nil) {
            let missing = config.htpasswdRealm == nil ? "auth.htpasswd.realm" : "auth.htpasswd.path"
            refusals.append("\(file.isEmpty ? "configuration" : file): \(missing) is not set: auth.htpasswd needs both realm and path, as in registry:2")
        }
        refusals += config.loadTokenTrust(origin: file.isEmpty ? "configuration" : file)
        if let problem = config.clusterProblem { refusals.append("\(file.isEmpty ? "configuration" : file): \(problem)") }
        if let problem = config.builtinProblem { refusals.append("\(file.isEmpty ? "configuration" : file): \(problem)") }
        guard refusals.isEmpty else { throw Invalid(description: refusals.joined(separator: "\n")) }
        for key in ConfigurationKey.all {
            guard let flag = key.flag, let value = flags[flag] else { continue }
            try key.apply(&config, value, flag, "command line")
        }
        return (config, warnings)
    }

    /// The keys a reload cannot change (`ConfigurationKey.needsRestart`) that differ from `running`, each
    /// said as `key changed from old to new`.
    public func changesNeedingRestart(from running: Configuration) -> [String] {
        ConfigurationKey.all.filter(\.needsRestart).compactMap { key in
            let (old, new) = (key.describe(running), key.describe(self))
            return old == new ? nil : "\(key.path) changed from \(old) to \(new)"
        }
    }

    private static func hasComplexKey(_ node: Node) -> Bool {
        switch node {
        case .mapping(let mapping):
            return mapping.contains { pair in
                guard case .scalar = pair.key else { return true }
                return hasComplexKey(pair.value)
            }
        case .sequence(let sequence): return sequence.contains(where: hasComplexKey)
        default: return false
        }
    }

    private static func apply(_ mapping: [String: Any], prefix: String, to config: inout Configuration,
                              file: String, warnings: inout [String], refusals: inout [String]) {
        for (name, value) in mapping.sorted(by: { $0.key < $1.key }) {
            let path = prefix.isEmpty ? name.lowercased() : prefix + "." + name.lowercased()
            if let key = ConfigurationKey.named(path) {
                do { try key.apply(&config, value, path, file) } catch { refusals.append("\(error)") }
            } else if let (rule, at) = RefusedKey.rule(covering: path), at == path, rule.asks(value) {
                refusals.append("\(file): \(path): \(rule.instead)")
            } else if knownSections.contains(path) {
                continue
            } else if let child = value as? [String: Any], ConfigurationKey.lies(below: path)
                        || RefusedKey.all.contains(where: { $0.path.hasPrefix(path + ".") }) {
                apply(child, prefix: path, to: &config, file: file, warnings: &warnings, refusals: &refusals)
            } else if RefusedKey.rule(covering: path)?.at == path {
                continue // such as `redirect: {disable: true}`: it asks for nothing Berth lacks
            } else if path == "http.secret" {
                warnings.append("\(file): ignoring http.secret: Berth keeps upload state in storage, not in signed tokens")
            } else {
                warnings.append("\(file): ignoring \(path): not used by Berth")
            }
        }
    }
}
