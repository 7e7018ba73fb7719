@testable import BerthConfiguration
import XCTest

/// The YAML of one dotted key: `a.b.c` and `v` give `a:\n  b:\n    c: v\n`.
func yaml(_ path: String, _ value: String) -> String {
    let parts = path.split(separator: ".")
    return parts.enumerated().map { depth, part in
        String(repeating: "  ", count: depth) + part + ":" + (depth == parts.count - 1 ? " \(value)" : "")
    }.joined(separator: "\n") + "\n"
}

func load(_ text: String? = nil, environment: [String: String] = [:], flags: [String: String] = [:]) throws -> Configuration {
    try Configuration.load(text: text, named: "test.yml", environment: environment, flags: flags).0
}

/// The message of the refusal of a configuration, or a failure when it loads.
func refusal(_ text: String? = nil, environment: [String: String] = [:], flags: [String: String] = [:],
             file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        _ = try load(text, environment: environment, flags: flags)
        XCTFail("loaded: \(text ?? "") \(environment) \(flags)", file: file, line: line)
        return ""
    } catch {
        return "\(error)"
    }
}

func value(_ path: String, in config: Configuration) -> String {
    ConfigurationKey.named(path)!.describe(config)
}
