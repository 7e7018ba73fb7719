@testable import BerthConfiguration
import BerthHTTP
import BerthRegistry
import BerthStorage
import Foundation
import Yams
import XCTest

/// Each default has one home, the option type that uses it; the configuration starts from it, and
/// conf/berth.yml writes the same value for every key that has one.
final class ConfigurationDefaultsTests: XCTestCase {
    /// Keys without a fixed default: the number of cores, or nothing set; and the TLS keys, which conf/berth.yml
    /// shows commented out (a `tls:` section there would read as TLS on).
    private let unset: Set<String> = ["workers", "kraken.namespaces", "mirrors", "proxy.remoteurl", "proxy.username",
                                      "proxy.password", "proxy.cafile", "proxy.timeout", "proxy.cache.maxsize", "cluster.peers", "cluster.self",
                                      "egress.proxy", "egress.proxyusername", "egress.proxypassword", "egress.noproxy",
                                      "http.tls.certificate", "http.tls.key", "http.tls.clientcas", "http.tls.minimumtls",
                                      "http.tls.ciphersuites",
                                      "auth.htpasswd.realm", "auth.htpasswd.path",
                                      "auth.builtin.htpasswd", "auth.builtin.key", "auth.builtin.service", "auth.builtin.issuer",
                                      "auth.builtin.realm", "auth.builtin.expiration", "auth.builtin.refreshexpiration",
                                      "auth.builtin.groups", "auth.builtin.access",
                                      "auth.token.realm", "auth.token.service", "auth.token.issuer", "auth.token.rootcertbundle",
                                      "auth.token.autoredirect"]

    private func repositoryFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(name).path
    }

    private var shippedFile: String { repositoryFile("conf/berth.yml") }

    func test_the_configuration_starts_from_the_option_types_defaults() {
        let defaults = Configuration()
        let registry = RegistryOptions()
        XCTAssertEqual(defaults.uploadMaxAgeSeconds, 7 * 24 * 3600, "registry:2 purges uploads after a week")
        XCTAssertEqual(defaults.gcDelay, 3600)
        XCTAssertEqual(defaults.proxyTTL, 300)
        XCTAssertEqual(defaults.krakenFetchTimeout, 300)
        let options = defaults.registryOptions
        XCTAssertEqual([options.uploadMaxAgeSeconds, options.gcDelaySeconds, options.gcIntervalSeconds, options.krakenFetchTimeoutSeconds],
                       [registry.uploadMaxAgeSeconds, registry.gcDelaySeconds, registry.gcIntervalSeconds, registry.krakenFetchTimeoutSeconds])
        XCTAssertEqual(options.deleteEnabled, registry.deleteEnabled)
        XCTAssertEqual(defaults.uploadMaxAgeSeconds, GarbageCollector.Options().uploadMaxAgeSeconds)
        XCTAssertEqual(defaults.uploadMaxAgeSeconds, StorageCheck.Options().uploadMaxAgeSeconds)
        XCTAssertEqual(defaults.gcDelay, StorageCheck.Options().blobDelaySeconds)
        XCTAssertEqual(defaults.proxyTTL, MirrorOptions().tagTTLSeconds)
        XCTAssertEqual(defaults.httpLimits.progress.windowMilliseconds, HTTPLimits().progress.windowMilliseconds)
        XCTAssertEqual(defaults.httpLimits.maxConnectionsPerClient, HTTPLimits().maxConnectionsPerClient)
        XCTAssertEqual(GarbageCollector.Options().delaySeconds, 0, "an offline collection spares nothing by age")
    }

    func test_conf_berth_yml_loads_without_a_warning_and_sets_only_defaults() throws {
        let (shipped, warnings) = try Configuration.load(file: shippedFile, environment: [:])
        XCTAssertEqual(warnings, [])
        for key in ConfigurationKey.all where key.path != "workers" {
            XCTAssertEqual(key.describe(shipped), key.describe(Configuration()), "conf/berth.yml: \(key.path)")
        }
    }

    func test_conf_berth_yml_writes_every_key_that_has_a_default() throws {
        let text = try String(contentsOfFile: shippedFile, encoding: .utf8)
        let document = try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        var written: Set<String> = []
        func walk(_ mapping: [String: Any], _ prefix: String) {
            for (name, value) in mapping {
                let path = prefix.isEmpty ? name : prefix + "." + name
                if let child = value as? [String: Any] { walk(child, path) } else { written.insert(path) }
            }
        }
        walk(document, "")
        let defaulted = Set(ConfigurationKey.all.map(\.path)).subtracting(unset)
        XCTAssertEqual(defaulted.subtracting(written), [], "keys with a default that conf/berth.yml does not write")
        XCTAssertEqual(written.subtracting(defaulted), ["version"])
        for path in unset {
            XCTAssertTrue(text.contains(" \(path.split(separator: ".").last!):"), "conf/berth.yml shows \(path) in a comment")
        }
    }

    /// README's table of keys: a row per key (registry:2's alias included) with its `BERTH_` variable, its
    /// flag, and its default as the key reads it.
    func test_the_readme_table_gives_each_key_its_default_variable_and_flag() throws {
        let readme = try String(contentsOfFile: repositoryFile("README.md"), encoding: .utf8)
        var rows: [String: [String]] = [:]
        for line in readme.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count >= 5 else { continue } // another table
            for name in cells[0].split(separator: ",") {
                rows[name.trimmingCharacters(in: CharacterSet(charactersIn: "` "))] = Array(cells)
            }
        }
        func backticked(_ cell: String) -> String? {
            let parts = cell.split(separator: "`", omittingEmptySubsequences: false)
            return parts.count >= 3 ? String(parts[1]) : nil
        }
        for key in ConfigurationKey.all {
            for path in [key.path] + key.aliases {
                let row = try XCTUnwrap(rows[path], "README has no row for \(path)")
                XCTAssertEqual(row[3].isEmpty ? nil : backticked(row[3]), key.flag, "README: the flag of \(path)")
                if !["kraken.namespaces", "mirrors"].contains(path) {
                    let prefix = path == key.path ? "BERTH_" : "REGISTRY_"
                    XCTAssertTrue(row[2].contains(prefix + path.uppercased().replacingOccurrences(of: ".", with: "_")),
                                  "README: the variable of \(path)")
                }
                guard !unset.contains(key.path) else { continue }
                var shown = Configuration()
                try key.apply(&shown, try XCTUnwrap(backticked(row[1]), "README: the default of \(path)"), path, "README")
                XCTAssertEqual(key.describe(shown), key.describe(Configuration()), "README: the default of \(path)")
            }
        }
    }
}
