import Foundation
import BerthHTTP
import BerthUpstream
import BerthRegistry
import BerthStorage
import Yams

/// Berth's settings: defaults here (they agree with conf/berth.yml), then the YAML file, then
/// `BERTH_<SECTION>_<KEY>` environment variables, then flags.
struct Configuration {
    var httpAddr = "127.0.0.1:5000"
    var rootDirectory = "./data"
    var fsync = true
    var directWrites = true
    var deleteEnabled = false
    var logLevel = "info"
    /// `text` or `json` (registry:2's `log.formatter`; its `logstash` is not offered).
    var logFormatter = "text"
    /// Kraken namespaces: patterns (matched anywhere, as Kraken's `backends` do) and their backend.
    /// Empty means every namespace is local.
    var krakenNamespaces: [KrakenNamespaceOptions] = []
    var krakenFetchTimeout: Double = 300
    /// Online garbage collection: every `gcInterval` seconds (0: never), sparing blobs younger than `gcDelay`.
    var gcInterval: Double = 0
    var gcDelay: Double = 3600
    var uploadMaxAgeSeconds: Double = 7 * 24 * 3600
    /// Pull-through mirror: registry:2's `proxy` section, plus upstreams by registry host (`mirrors:`).
    var proxyRemoteURL: String?
    var proxyUsername: String?
    var proxyPassword: String?
    var proxyTTL: Double = 300
    var proxyCAFile: String?
    var proxyTimeout: Double?
    var proxyCacheMaxSize: Int64?
    var mirrors: [(host: String, url: String, username: String?, password: String?)] = []
    /// Connections one client address may hold open in a worker (0: no limit), and the window in which a
    /// peer must move 64 KiB of a body or an answer (or what is left of a smaller one).
    var maxConnectionsPerClient = 0
    var progressWindow: Double = 120
    /// Worker processes sharing the port; the number of cores unless set.
    var workers = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// One settable key: its dotted path (as in registry:2's config.yml) and how to apply a value.
    private struct Key {
        let path: String
        let apply: (inout Configuration, Any, String) throws -> Void
    }

    private static let keys: [Key] = [
        Key(path: "gc.interval") { config, value, origin in config.gcInterval = try duration(value, "gc.interval", origin) },
        Key(path: "gc.delay") { config, value, origin in config.gcDelay = try duration(value, "gc.delay", origin) },
        Key(path: "uploads.maxage") { config, value, origin in
            config.uploadMaxAgeSeconds = try duration(value, "uploads.maxage", origin)
        },
        // registry:2's name for the same setting.
        Key(path: "storage.maintenance.uploadpurging.age") { config, value, origin in
            config.uploadMaxAgeSeconds = try duration(value, "storage.maintenance.uploadpurging.age", origin)
        },
        Key(path: "workers") { config, value, origin in config.workers = try count(value, "workers", origin) },
        Key(path: "http.addr") { config, value, origin in
            let address = try text(value, "http.addr", origin)
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                  (0...65535).contains(port) else {
                throw Invalid(description: "\(origin): http.addr: \(address) is not host:port")
            }
            config.httpAddr = address
        },
        Key(path: "http.maxconnsperclient") { config, value, origin in
            let number = (value as? Int) ?? (value as? String).flatMap { Int($0) }
            guard let number, (0...1_000_000).contains(number) else {
                throw Invalid(description: "\(origin): http.maxconnsperclient: expected a whole number from 0 (no limit) to 1000000")
            }
            config.maxConnectionsPerClient = number
        },
        Key(path: "http.progresswindow") { config, value, origin in
            let seconds = try duration(value, "http.progresswindow", origin)
            guard seconds >= 0.001, seconds <= 86_400 else {
                throw Invalid(description: "\(origin): http.progresswindow: \(value) is not from 1ms to 24h")
            }
            config.progressWindow = seconds
        },
        Key(path: "storage.filesystem.rootdirectory") { config, value, origin in
            config.rootDirectory = try text(value, "storage.filesystem.rootdirectory", origin)
        },
        Key(path: "storage.filesystem.fsync") { config, value, origin in config.fsync = try flag(value, "storage.filesystem.fsync", origin) },
        Key(path: "storage.filesystem.directwrites") { config, value, origin in
            config.directWrites = try flag(value, "storage.filesystem.directwrites", origin)
        },
        Key(path: "storage.delete.enabled") { config, value, origin in
            config.deleteEnabled = try flag(value, "storage.delete.enabled", origin)
        },
        Key(path: "kraken.namespaces") { config, value, origin in
            guard let entries = value as? [[String: Any]] else {
                throw Invalid(description: "\(origin): kraken.namespaces: expected a list of {pattern, backend}")
            }
            config.krakenNamespaces = try entries.enumerated().map { index, entry in
                try krakenNamespace(entry, key: "kraken.namespaces[\(index)]", origin: origin)
            }
        },
        Key(path: "kraken.fetchtimeout") { config, value, origin in
            config.krakenFetchTimeout = try duration(value, "kraken.fetchtimeout", origin)
        },
        Key(path: "proxy.remoteurl") { config, value, origin in config.proxyRemoteURL = try url(value, "proxy.remoteurl", origin) },
        Key(path: "proxy.username") { config, value, origin in config.proxyUsername = try text(value, "proxy.username", origin) },
        Key(path: "proxy.password") { config, value, origin in config.proxyPassword = try text(value, "proxy.password", origin) },
        Key(path: "proxy.ttl") { config, value, origin in config.proxyTTL = try duration(value, "proxy.ttl", origin) },
        Key(path: "proxy.cafile") { config, value, origin in config.proxyCAFile = try text(value, "proxy.cafile", origin) },
        Key(path: "proxy.timeout") { config, value, origin in config.proxyTimeout = try duration(value, "proxy.timeout", origin) },
        Key(path: "proxy.cache.maxsize") { config, value, origin in config.proxyCacheMaxSize = try byteSize(value, "proxy.cache.maxsize", origin) },
        Key(path: "mirrors") { config, value, origin in
            guard let entries = value as? [String: Any] else {
                throw Invalid(description: "\(origin): mirrors: expected a mapping of registry host to upstream URL")
            }
            config.mirrors = try entries.sorted { $0.key < $1.key }.map { host, entry in
                let key = "mirrors.\(host)"
                if let fields = entry as? [String: Any] {
                    guard let address = fields["url"] else { throw Invalid(description: "\(origin): \(key).url: missing") }
                    return (host, try url(address, key + ".url", origin),
                            try fields["username"].map { try text($0, key + ".username", origin) },
                            try fields["password"].map { try text($0, key + ".password", origin) })
                }
                return (host, try url(entry, key, origin), nil, nil)
            }
        },
        Key(path: "log.level") { config, value, origin in
            let level = try text(value, "log.level", origin)
            guard ["debug", "info", "warn", "warning", "error", "fatal", "panic"].contains(level.lowercased()) else {
                throw Invalid(description: "\(origin): log.level: \(level) is not debug, info, warn or error")
            }
            config.logLevel = level
        },
        Key(path: "log.formatter") { config, value, origin in
            let formatter = try text(value, "log.formatter", origin)
            guard LogFormat(name: formatter) != nil else {
                throw Invalid(description: "\(origin): log.formatter: \(formatter) is not text or json")
            }
            config.logFormatter = formatter
        },
    ]

    /// Keys whose whole subtree is understood as a unit.
    private static let knownSections: Set<String> = ["version"]

    /// Variables with registry:2's prefix that belong to other tools: podman, skopeo and buildah read
    /// `REGISTRY_AUTH_FILE` as the path of their credentials file.
    private static let foreignVariables: Set<String> = ["REGISTRY_AUTH_FILE"]

    /// Reads `file` (if given), then registry:2's `REGISTRY_<SECTION>_<KEY>` variables, then Berth's own
    /// `BERTH_<SECTION>_<KEY>`. Returns the configuration and a warning per ignored key; throws, naming every
    /// such key, when a value is invalid or asks for something Berth does not provide (`RefusedKey`).
    static func load(file: String?, environment: [String: String]) throws -> (Configuration, [String]) {
        guard let file else { return try load(text: nil, named: "", environment: environment) }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Invalid(description: "\(file): cannot read the configuration file")
        }
        return try load(text: text, named: file, environment: environment)
    }

    /// The same, from the file's text (`file` names it in messages); the fuzzer (Tests/fuzz) calls this.
    static func load(text: String?, named file: String, environment: [String: String]) throws -> (Configuration, [String]) {
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
                try apply(root, prefix: "", to: &config, file: file, warnings: &warnings, refusals: &refusals)
            }
        }
        for prefix in ["REGISTRY_", "BERTH_"] {
            for (name, value) in environment.sorted(by: { $0.key < $1.key })
            where name.hasPrefix(prefix) && !foreignVariables.contains(name) {
                let path = name.dropFirst(prefix.count).lowercased().replacingOccurrences(of: "_", with: ".")
                let origin = "environment \(name)"
                if let key = keys.first(where: { $0.path == path }) {
                    do { try key.apply(&config, value, origin) } catch { refusals.append("\(error)") }
                } else if let (rule, at) = RefusedKey.rule(covering: path) {
                    // The value as the rule sees it in a file: nested below the key the rule matched.
                    let below = path.split(separator: ".").dropFirst(at.split(separator: ".").count)
                    let nested = below.reversed().reduce(value as Any) { [String($1): $0] }
                    if rule.asks(nested) { refusals.append("\(origin): \(at): \(rule.instead)") }
                }
            }
        }
        guard refusals.isEmpty else { throw Invalid(description: refusals.joined(separator: "\n")) }
        return (config, warnings)
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
                              file: String, warnings: inout [String], refusals: inout [String]) throws {
        for (name, value) in mapping.sorted(by: { $0.key < $1.key }) {
            let path = prefix.isEmpty ? name.lowercased() : prefix + "." + name.lowercased()
            if let key = keys.first(where: { $0.path == path }) {
                do { try key.apply(&config, value, file) } catch { refusals.append("\(error)") }
            } else if let (rule, at) = RefusedKey.rule(covering: path), at == path, rule.asks(value) {
                refusals.append("\(file): \(path): \(rule.instead)")
            } else if knownSections.contains(path) {
                continue
            } else if let child = value as? [String: Any], keys.contains(where: { $0.path.hasPrefix(path + ".") })
                        || RefusedKey.all.contains(where: { $0.path.hasPrefix(path + ".") }) {
                try apply(child, prefix: path, to: &config, file: file, warnings: &warnings, refusals: &refusals)
            } else if RefusedKey.rule(covering: path)?.at == path {
                continue // such as `redirect: {disable: true}`: it asks for nothing Berth lacks
            } else if path == "http.secret" {
                warnings.append("\(file): ignoring http.secret: Berth keeps upload state in storage, not in signed tokens")
            } else {
                warnings.append("\(file): ignoring \(path): not used by Berth")
            }
        }
    }

    /// `{pattern, backend: local}` or `{pattern, backend: registry, url, repository?, username?, password?, cafile?}`.
    private static func krakenNamespace(_ entry: [String: Any], key: String, origin: String) throws -> KrakenNamespaceOptions {
        guard let pattern = entry["pattern"] as? String, (try? NSRegularExpression(pattern: pattern)) != nil else {
            throw Invalid(description: "\(origin): \(key).pattern: expected a regular expression")
        }
        func optional(_ field: String) throws -> String? {
            try entry[field].map { try text($0, "\(key).\(field)", origin) }
        }
        switch (entry["backend"] as? String) ?? "local" {
        case "local":
            return KrakenNamespaceOptions(pattern: pattern, backend: .local)
        case "registry":
            guard let address = entry["url"] else { throw Invalid(description: "\(origin): \(key).url: a registry backend needs its URL") }
            let repository = try optional("repository")
            if let repository, RepositoryName(repository) == nil {
                throw Invalid(description: "\(origin): \(key).repository: \(repository) is not a repository name")
            }
            return KrakenNamespaceOptions(pattern: pattern, backend: .registry(
                url: try url(address, key + ".url", origin), repository: repository,
                username: try optional("username"), password: try optional("password"), caFile: try optional("cafile")))
        case let other:
            throw Invalid(description: "\(origin): \(key).backend: \(other) is not supported (local or registry)")
        }
    }

}

extension Configuration {
    var httpLimits: HTTPLimits {
        var limits = HTTPLimits()
        limits.maxConnectionsPerClient = maxConnectionsPerClient
        limits.progress.windowMilliseconds = UInt64(progressWindow * 1000)
        return limits
    }

    /// The mirror's options when a `proxy.remoteurl` or `mirrors` is configured: the default upstream first
    /// (`proxy.remoteurl`, else the `docker.io` mirror, else the first by name).
    var mirrorOptions: MirrorOptions? {
        var upstreams = mirrors.map { MirrorOptions.Upstream(host: $0.host, url: $0.url, username: $0.username, password: $0.password) }
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
        return options
    }
}
