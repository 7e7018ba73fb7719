import Foundation
import BerthHTTP
import BerthRegistry
import BerthStorage

/// How one value of the configuration is read (`ConfigurationKey.Reader`): each reader names the key and
/// where the value came from when it refuses one, and keeps every number inside what the loop's timers and
/// Int64 offsets can hold.
extension Configuration {
    /// Ten years: longer durations are refused rather than overflow a timer (`gc.interval: 1e30` trapped at start).
    public static let longestDuration: Double = 10 * 365 * 24 * 3600
    /// One exbibyte: larger sizes are refused rather than overflow an Int64.
    static let largestSize: Double = 1_152_921_504_606_846_976

    static func text(_ value: Any, _ key: String, _ origin: String) throws -> String {
        switch value {
        case let string as String: return string
        case let number as Int: return String(number)
        default: throw Invalid(description: "\(origin): \(key): expected a string")
        }
    }

    static func url(_ value: Any, _ key: String, _ origin: String) throws -> String {
        let address = try text(value, key, origin)
        guard address.hasPrefix("http://") || address.hasPrefix("https://") else {
            throw Invalid(description: "\(origin): \(key): \(address) is not an http:// or https:// URL")
        }
        return address
    }

    /// A number of bytes, plain or with a unit: `500MB`, `20GiB`, `1.5T` (k/M/G/T powers of 1000, Ki/Mi/Gi/Ti of 1024).
    static func byteSize(_ value: Any, _ key: String, _ origin: String) throws -> Int64 {
        let invalid = Invalid(description: "\(origin): \(key): expected a size such as 500MB or 20GiB, at most 1EiB")
        if let number = value as? Int {
            guard number > 0, Double(number) <= largestSize else { throw invalid }
            return Int64(number)
        }
        let text = ((value as? String) ?? "").trimmingCharacters(in: .whitespaces)
        let digits = text.prefix { $0.isNumber || $0 == "." }
        var unit = text.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        if unit.hasSuffix("b") { unit.removeLast() }
        let multipliers: [String: Double] = ["": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12,
                                             "ki": 1024, "mi": 1048576, "gi": 1073741824, "ti": 1099511627776]
        guard let number = Double(digits), let multiplier = multipliers[unit] else { throw invalid }
        let bytes = number * multiplier
        guard bytes.isFinite, bytes >= 1, bytes <= largestSize else { throw invalid }
        return Int64(bytes)
    }

    /// A Go-style duration (`90s`, `10m`, `1h30m`, `500ms`) or a number of seconds, from 0 to ten years.
    static func duration(_ value: Any, _ key: String, _ origin: String) throws -> Double {
        let seconds = try unboundedDuration(value, key, origin)
        guard seconds.isFinite, seconds >= 0, seconds <= longestDuration else {
            throw Invalid(description: "\(origin): \(key): \(value) is not a duration from 0 to ten years")
        }
        return seconds
    }

    private static func unboundedDuration(_ value: Any, _ key: String, _ origin: String) throws -> Double {
        if let number = value as? Int { return Double(number) }
        if let number = value as? Double { return number }
        guard let text = value as? String, !text.isEmpty else {
            throw Invalid(description: "\(origin): \(key): expected a duration such as 30s, 10m or 1h")
        }
        if let seconds = Double(text) { return seconds }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var total = 0.0
        var rest = Substring(text)
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(digits.count)
            guard let number = Double(digits), let unit = units.first(where: { rest.hasPrefix($0.0) }) else {
                throw Invalid(description: "\(origin): \(key): \(text) is not a duration such as 30s, 10m or 1h")
            }
            total += number * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total
    }

    static func count(_ value: Any, _ key: String, _ origin: String) throws -> Int {
        try wholeNumber(value, key, origin, in: 1...256, "from 1 to 256")
    }

    /// An integer (in YAML or as the text of a variable) within `range`, which `expected` says in words.
    private static func wholeNumber(_ value: Any, _ key: String, _ origin: String, in range: ClosedRange<Int>,
                                    _ expected: String) throws -> Int {
        let number = (value as? Int) ?? (value as? String).flatMap { Int($0) }
        guard let number, range.contains(number) else {
            throw Invalid(description: "\(origin): \(key): expected a whole number \(expected)")
        }
        return number
    }

    static func flag(_ value: Any, _ key: String, _ origin: String) throws -> Bool {
        switch value {
        case let bool as Bool: return bool
        case let string as String where ["true", "yes", "1", "on"].contains(string.lowercased()): return true
        case let string as String where ["false", "no", "0", "off"].contains(string.lowercased()): return false
        default: throw Invalid(description: "\(origin): \(key): expected true or false")
        }
    }

    static func address(_ value: Any, _ key: String, _ origin: String) throws -> String {
        let address = try text(value, key, origin)
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw Invalid(description: "\(origin): \(key): \(address) is not host:port")
        }
        return address
    }

    static func connectionLimit(_ value: Any, _ key: String, _ origin: String) throws -> Int {
        try wholeNumber(value, key, origin, in: 0...1_000_000, "from 0 (no limit) to 1000000")
    }

    static func progressWindow(_ value: Any, _ key: String, _ origin: String) throws -> Double {
        let seconds = try duration(value, key, origin)
        guard seconds >= 0.001, seconds <= 86_400 else {
            throw Invalid(description: "\(origin): \(key): \(value) is not from 1ms to 24h")
        }
        return seconds
    }

    static func logLevel(_ value: Any, _ key: String, _ origin: String) throws -> String {
        let level = try text(value, key, origin)
        guard LogLevel(name: level) != nil else {
            throw Invalid(description: "\(origin): \(key): \(level) is not debug, info, warn or error")
        }
        return level
    }

    static func logFormatter(_ value: Any, _ key: String, _ origin: String) throws -> String {
        let formatter = try text(value, key, origin)
        guard LogFormat(name: formatter) != nil else {
            throw Invalid(description: "\(origin): \(key): \(formatter) is not text or json")
        }
        return formatter
    }

    /// A mapping of registry host to an upstream URL, or to `{url, username?, password?}`, sorted by host.
    static func mirrors(_ value: Any, _ key: String, _ origin: String) throws -> [MirrorOptions.Upstream] {
        guard let entries = value as? [String: Any] else {
            throw Invalid(description: "\(origin): \(key): expected a mapping of registry host to upstream URL")
        }
        return try entries.sorted { $0.key < $1.key }.map { host, entry in
            let key = "\(key).\(host)"
            guard let fields = entry as? [String: Any] else { return MirrorOptions.Upstream(host: host, url: try url(entry, key, origin)) }
            guard let address = fields["url"] else { throw Invalid(description: "\(origin): \(key).url: missing") }
            return MirrorOptions.Upstream(host: host, url: try url(address, key + ".url", origin),
                                          username: try fields["username"].map { try text($0, key + ".username", origin) },
                                          password: try fields["password"].map { try text($0, key + ".password", origin) })
        }
    }

    static func krakenNamespaces(_ value: Any, _ key: String, _ origin: String) throws -> [KrakenNamespaceOptions] {
        guard let entries = value as? [[String: Any]] else {
            throw Invalid(description: "\(origin): \(key): expected a list of {pattern, backend}")
        }
        return try entries.enumerated().map { index, entry in try krakenNamespace(entry, key: "\(key)[\(index)]", origin: origin) }
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
