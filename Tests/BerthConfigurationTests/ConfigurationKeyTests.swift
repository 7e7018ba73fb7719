@testable import BerthConfiguration
import BerthRegistry
import XCTest

/// Every key of the table is read from the file and from both environment prefixes alike; the environment
/// overrides the file, `BERTH_` overrides `REGISTRY_`, and flags override both.
final class ConfigurationKeyTests: XCTestCase {
    /// A value for each key that can be written as one scalar, and the field it gives.
    private let samples: [(path: String, value: String, loaded: String)] = [
        ("http.addr", "0.0.0.0:6000", "0.0.0.0:6000"),
        ("http.maxconnsperclient", "7", "7"),
        ("http.progresswindow", "30s", "30.0"),
        ("storage.filesystem.rootdirectory", "/srv/registry", "/srv/registry"),
        ("storage.filesystem.fsync", "false", "false"),
        ("storage.filesystem.directwrites", "false", "false"),
        ("storage.delete.enabled", "true", "true"),
        ("workers", "3", "3"),
        ("gc.interval", "10m", "600.0"),
        ("gc.delay", "2h", "7200.0"),
        ("uploads.maxage", "48h", "172800.0"),
        ("kraken.fetchtimeout", "1m30s", "90.0"),
        ("proxy.remoteurl", "https://registry.example", "Optional(\"https://registry.example\")"),
        ("proxy.username", "bot", "Optional(\"bot\")"),
        ("proxy.password", "secret", "Optional(\"secret\")"),
        ("proxy.ttl", "10m", "600.0"),
        ("proxy.cafile", "/etc/ca.pem", "Optional(\"/etc/ca.pem\")"),
        ("proxy.timeout", "500ms", "Optional(0.5)"),
        ("proxy.cache.maxsize", "2GiB", "Optional(2147483648)"),
        ("proxy.maxdownloads", "3", "3"),
        ("cluster.timeout", "500ms", "0.5"),
        ("egress.proxy", "http://squid.corp:3128", "Optional(\"http://squid.corp:3128\")"),
        ("egress.proxyusername", "mirror", "Optional(\"mirror\")"),
        ("egress.proxypassword", "secret", "Optional(\"secret\")"),
        ("egress.noproxy", ".corp", "Optional(\".corp\")"),
        ("log.level", "debug", "debug"),
        ("log.formatter", "json", "json"),
        ("ui.enabled", "false", "false"),
        ("ui.path", "/console", "/console"),
    ]
    /// Keys whose value is a list or a mapping: only a file can hold one.
    private let structured: Set<String> = ["kraken.namespaces", "mirrors"]
    /// Keys that are refused alone (a TLS key without the certificate and key): TLSConfigurationTests.
    private let together: Set<String> = ["http.tls.certificate", "http.tls.key", "http.tls.clientcas", "http.tls.minimumtls",
                                         "http.tls.ciphersuites"]
    /// Keys set together or not at all (auth.htpasswd needs both): read as a pair below.
    private let paired: Set<String> = ["auth.htpasswd.realm", "auth.htpasswd.path"]
    /// Keys set all together, the bundle read at load: TokenConfigurationTests.
    private let token: Set<String> = ["auth.token.realm", "auth.token.service", "auth.token.issuer", "auth.token.rootcertbundle",
                                      "auth.token.autoredirect"]
    /// Keys of the built-in issuer, which needs htpasswd and key with any of them: BuiltinIssuerConfigurationTests.
    private let builtin: Set<String> = Set(Configuration.builtinKeys.map { "auth.builtin." + $0 })
    /// Keys of a fleet's node, set together and with a mirror: ClusterConfigurationTests.
    private let cluster: Set<String> = ["cluster.peers", "cluster.self"]

    func test_the_samples_cover_every_key_of_the_table() {
        XCTAssertEqual(Set(samples.map(\.path)).union(structured).union(together).union(paired).union(token).union(builtin).union(cluster),
                       Set(ConfigurationKey.all.map(\.path)))
        XCTAssertEqual(ConfigurationKey.all.count, Set(ConfigurationKey.all.map(\.path)).count, "a key is in the table twice")
    }

    func test_the_htpasswd_pair_is_read_from_the_file_and_from_both_environment_names() throws {
        let file = try load("auth:\n  htpasswd:\n    realm: Registry Realm\n    path: /etc/htpasswd\n")
        XCTAssertEqual(file.htpasswdRealm, "Registry Realm")
        XCTAssertEqual(file.htpasswdPath, "/etc/htpasswd")
        for prefix in ["REGISTRY_", "BERTH_"] {
            let config = try load(environment: [prefix + "AUTH_HTPASSWD_REALM": "R", prefix + "AUTH_HTPASSWD_PATH": "/p"])
            XCTAssertEqual(config.htpasswdRealm, "R", prefix)
            XCTAssertEqual(config.htpasswdPath, "/p", prefix)
        }
        XCTAssertNil(Configuration().htpasswdRealm)
        XCTAssertNil(Configuration().htpasswdPath)
    }

    func test_each_key_is_read_from_the_file() throws {
        for sample in samples {
            let config = try load(yaml(sample.path, sample.value))
            XCTAssertEqual(value(sample.path, in: config), sample.loaded, sample.path)
            XCTAssertNotEqual(value(sample.path, in: Configuration()), sample.loaded, "\(sample.path): the sample is the default")
        }
    }

    func test_each_key_is_read_from_both_environment_names() throws {
        for sample in samples {
            let key = try XCTUnwrap(ConfigurationKey.named(sample.path))
            XCTAssertEqual(key.environmentNames.count, 2 * (1 + key.aliases.count), sample.path)
            for name in key.environmentNames {
                XCTAssertEqual(value(sample.path, in: try load(environment: [name: sample.value])), sample.loaded, name)
            }
        }
        XCTAssertEqual(ConfigurationKey.named("http.progresswindow")?.environmentNames,
                       ["REGISTRY_HTTP_PROGRESSWINDOW", "BERTH_HTTP_PROGRESSWINDOW"])
    }

    func test_the_environment_overrides_the_file_and_berth_names_override_registry_names() throws {
        let file = yaml("http.addr", "127.0.0.1:1000")
        XCTAssertEqual(try load(file).httpAddr, "127.0.0.1:1000")
        XCTAssertEqual(try load(file, environment: ["REGISTRY_HTTP_ADDR": "127.0.0.1:2000"]).httpAddr, "127.0.0.1:2000")
        let both = ["REGISTRY_HTTP_ADDR": "127.0.0.1:2000", "BERTH_HTTP_ADDR": "127.0.0.1:3000"]
        XCTAssertEqual(try load(file, environment: both).httpAddr, "127.0.0.1:3000")
        // The path after the prefix is read in any case, as registry:2 does.
        XCTAssertEqual(try load(environment: ["BERTH_Gc_Delay": "5s"]).gcDelay, 5)
    }

    func test_flags_override_the_file_and_the_environment() throws {
        let file = yaml("http.addr", "127.0.0.1:1000") + "workers: 2\n"
        let config = try load(file, environment: ["BERTH_HTTP_ADDR": "127.0.0.1:3000", "BERTH_LOG_LEVEL": "warn"],
                              flags: ["--addr": "127.0.0.1:4000", "--root": "/r", "--workers": "5", "--log-level": "error"])
        XCTAssertEqual(config.httpAddr, "127.0.0.1:4000")
        XCTAssertEqual(config.rootDirectory, "/r")
        XCTAssertEqual(config.workers, 5)
        XCTAssertEqual(config.logLevel, "error")
        XCTAssertEqual(Set(ConfigurationKey.all.compactMap(\.flag)), ["--addr", "--root", "--workers", "--log-level"])
    }

    func test_a_bad_flag_is_named_with_the_command_line() {
        XCTAssertEqual(refusal(flags: ["--workers": "0"]), "command line: --workers: expected a whole number from 1 to 256")
        XCTAssertEqual(refusal(flags: ["--log-level": "loud"]), "command line: --log-level: loud is not debug, info, warn or error")
        XCTAssertEqual(refusal(flags: ["--addr": "nowhere"]), "command line: --addr: nowhere is not host:port")
    }

    func test_registry2_upload_purging_age_is_the_same_setting_as_uploads_maxage() throws {
        XCTAssertEqual(try load(yaml("storage.maintenance.uploadpurging.age", "24h")).uploadMaxAgeSeconds, 86_400)
        XCTAssertEqual(try load(environment: ["REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE": "1h"]).uploadMaxAgeSeconds, 3600)
        XCTAssertEqual(refusal(yaml("storage.maintenance.uploadpurging.age", "soon")),
                       "test.yml: storage.maintenance.uploadpurging.age: soon is not a duration such as 30s, 10m or 1h")
        let both = yaml("storage.maintenance.uploadpurging.age", "24h") + yaml("uploads.maxage", "2h")
        XCTAssertEqual(try load(both).uploadMaxAgeSeconds, 7200, "Berth's own name, later in the file's key order, wins")
    }

    func test_a_bad_value_names_the_file_or_the_variable_and_every_bad_key_is_listed() {
        XCTAssertEqual(refusal(yaml("gc.delay", "soon") + yaml("log.level", "loud")),
                       "test.yml: gc.delay: soon is not a duration such as 30s, 10m or 1h\n"
                       + "test.yml: log.level: loud is not debug, info, warn or error")
        XCTAssertEqual(refusal(environment: ["BERTH_STORAGE_DELETE_ENABLED": "maybe"]),
                       "environment BERTH_STORAGE_DELETE_ENABLED: storage.delete.enabled: expected true or false")
        XCTAssertEqual(refusal(environment: ["REGISTRY_MIRRORS": "https://x"]),
                       "environment REGISTRY_MIRRORS: mirrors: expected a mapping of registry host to upstream URL")
        XCTAssertEqual(refusal(yaml("proxy.remoteurl", "ftp://x")), "test.yml: proxy.remoteurl: ftp://x is not an http:// or https:// URL")
    }

    func test_kraken_namespaces_and_mirrors_are_read_from_the_file() throws {
        let config = try load("""
            kraken:
              namespaces:
                - pattern: "^models/"
                  backend: registry
                  url: https://registry.internal
                  repository: kraken/models
                - pattern: "^team/"
            mirrors:
              ghcr.io: https://ghcr.io
              docker.io: {url: https://registry-1.docker.io, username: bot, password: pw}
            """)
        XCTAssertEqual(config.krakenNamespaces.map(\.pattern), ["^models/", "^team/"])
        guard case .registry(let url, let repository, _, _, _) = config.krakenNamespaces[0].backend else { return XCTFail() }
        XCTAssertEqual([url, repository], ["https://registry.internal", "kraken/models"])
        guard case .local = config.krakenNamespaces[1].backend else { return XCTFail() }
        XCTAssertEqual(config.mirrors.map(\.host), ["docker.io", "ghcr.io"])
        XCTAssertEqual(config.mirrors[0].username, "bot")
        // docker.io is the default upstream when there is no proxy.remoteurl.
        XCTAssertEqual(config.mirrorOptions?.upstreams.first?.host, "docker.io")
        XCTAssertEqual(config.mirrorOptions?.proxyOnly, false)
        XCTAssertEqual(refusal("kraken:\n  namespaces:\n    - pattern: x\n      backend: registry\n"),
                       "test.yml: kraken.namespaces[0].url: a registry backend needs its URL")
        XCTAssertEqual(refusal("mirrors:\n  ghcr.io: {username: a}\n"), "test.yml: mirrors.ghcr.io.url: missing")
    }

    func test_the_option_types_are_filled_from_the_keys() throws {
        let config = try load("""
            proxy: {remoteurl: "https://registry-1.docker.io", ttl: 1m, timeout: 5s, cache: {maxsize: 1GB}}
            gc: {interval: 1m, delay: 2m}
            uploads: {maxage: 3m}
            kraken: {fetchtimeout: 4m}
            storage: {delete: {enabled: true}}
            http: {maxconnsperclient: 9, progresswindow: 10s}
            """)
        let options = config.registryOptions
        XCTAssertEqual([options.gcIntervalSeconds, options.gcDelaySeconds, options.uploadMaxAgeSeconds,
                        options.krakenFetchTimeoutSeconds], [60, 120, 180, 240])
        XCTAssertTrue(options.deleteEnabled)
        let mirror = try XCTUnwrap(options.mirror)
        XCTAssertEqual(mirror.upstreams.map(\.host), ["registry-1.docker.io"])
        XCTAssertTrue(mirror.proxyOnly)
        XCTAssertEqual([mirror.tagTTLSeconds, mirror.connectTimeoutSeconds, mirror.readTimeoutSeconds], [60, 5, 5])
        XCTAssertEqual(mirror.cacheMaxBytes, 1_000_000_000)
        XCTAssertEqual(config.httpLimits.maxConnectionsPerClient, 9)
        XCTAssertEqual(config.httpLimits.progress.windowMilliseconds, 10_000)
        XCTAssertNil(Configuration().mirrorOptions)
    }

    /// What a SIGHUP compares: the keys the supervisor holds for its life.
    func test_a_reload_needs_a_restart_only_for_the_address_the_root_and_the_workers() throws {
        let running = try load("http: {addr: '127.0.0.1:5000'}\nworkers: 2\n")
        XCTAssertEqual(try load("http: {addr: '127.0.0.1:5000'}\nworkers: 2\ngc: {delay: 1m}\nlog: {level: debug}\n")
                        .changesNeedingRestart(from: running), [])
        XCTAssertEqual(try load("http: {addr: '127.0.0.1:5001'}\nworkers: 3\nstorage: {filesystem: {rootdirectory: /elsewhere}}\n")
                        .changesNeedingRestart(from: running),
                       ["http.addr changed from 127.0.0.1:5000 to 127.0.0.1:5001",
                        "storage.filesystem.rootdirectory changed from ./data to /elsewhere",
                        "workers changed from 2 to 3"])
        XCTAssertEqual(Set(ConfigurationKey.all.filter(\.needsRestart).map(\.path)),
                       ["http.addr", "storage.filesystem.rootdirectory", "workers"])
    }
}
