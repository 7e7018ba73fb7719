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
    /// Keys without a fixed default: the number of cores, or nothing set.
    private let unset: Set<String> = ["workers", "kraken.namespaces", "mirrors", "proxy.remoteurl", "proxy.username",
                                      "proxy.password", "proxy.cafile", "proxy.timeout", "proxy.cache.maxsize"]

    private var shippedFile: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("conf/berth.yml").path
    }

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
}
