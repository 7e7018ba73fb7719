import ArgumentParser
import BerthConfiguration
import BerthStorage
import Foundation

/// `berth cache`: what a pull-through mirror has cached, and the means to drop or pre-fetch an image.
struct Cache: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, evict or warm what the pull-through mirror has cached.",
        discussion: """
            Repositories are named as the mirror keeps them: the default upstream's (proxy.remoteurl) by their \
            own names (library/alpine for Docker Hub's alpine), those of a mirrors: entry under its host, with \
            a port written _port (127.0.0.1_5101/org/tool). list and evict read the storage root and may run \
            while berth serve runs on it; warm asks the running mirror over HTTP.
            """,
        subcommands: [CacheList.self, CacheEvict.self, CacheWarm.self])
}

extension StoreOptions {
    /// The configuration and store of a mirror; a configuration without `proxy.remoteurl` or `mirrors:` exits 2
    /// (its repositories are pushed images, not a cache).
    func openMirror() throws -> (Configuration, RegistryStore) {
        let (settings, store) = try open(unusableRoot: 1, existing: true)
        guard settings.mirrorOptions != nil else {
            throw Berth.failure("the configuration has no proxy.remoteurl nor mirrors: this root holds no mirror cache", status: 2)
        }
        return (settings, store)
    }
}

/// A command-line argument as it may be quoted back in a message: escaped, and cut when long.
func quoted(_ text: String) -> String {
    let shown = text.unicodeScalars.count > 200 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(200))) + "..." : text
    return shown.debugDescription
}

/// Bytes for a reader: 1536 -> "1.5 KiB".
func humanBytes(_ bytes: Int64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
}

/// Seconds since the epoch as RFC 3339 in UTC, to the second.
func timestamp(_ seconds: Double?) -> String? {
    guard let seconds else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date(timeIntervalSince1970: seconds))
}
