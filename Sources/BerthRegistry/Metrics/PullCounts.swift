/// The manifest GETs this worker answered 200, per request path (`/v2/<name>/manifests/<reference>`), for the
/// UI's "most pulled": at most `capacity` paths, and a new one, when full, takes the place of the least pulled
/// (so a long tail of one-off pulls cannot grow it). Counting a path seen before hashes its bytes and bumps a
/// count in place: no allocation on the manifest GET path; only a new path is copied into a String. Each
/// worker publishes its counts beside its metrics (`snapshot`), and the UI sums them over the workers as
/// `/metrics` sums its figures. Loop-confined (inside `Metrics`).
struct PullCounts {
    static let capacity = 1000

    private struct Entry {
        var count: Int
        let path: String
    }

    private var entries: [UInt64: Entry] = [:]
    /// Bumped by every count: the snapshot is written again only when it moved.
    private(set) var generation = 0

    mutating func count(_ path: Substring) {
        generation &+= 1
        let key = Self.hash(path)
        if (entries[key]?.count += 1) != nil { return }
        if entries.count >= Self.capacity, let least = entries.min(by: { $0.value.count < $1.value.count }) {
            entries.removeValue(forKey: least.key)
        }
        entries[key] = Entry(count: 1, path: String(path))
    }

    /// One line per path: `<count> <path>`.
    var snapshot: String {
        var text = ""
        for entry in entries.values { text += "\(entry.count) \(entry.path)\n" }
        return text
    }

    /// Snapshots summed: `name:tag` or `name@digest` with its count, the most pulled first (then by name).
    static func merged(_ snapshots: [String]) -> [(reference: String, count: Int)] {
        var counts: [String: Int] = [:]
        for text in snapshots {
            for line in text.split(separator: "\n") {
                guard let space = line.firstIndex(of: " "), let count = Int(line[..<space]),
                      let reference = reference(ofPath: line[line.index(after: space)...]) else { continue }
                counts[reference, default: 0] += count
            }
        }
        return counts.map { ($0.key, $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.reference < $1.reference }
    }

    /// `/v2/team/app/manifests/v1` -> `team/app:v1`; a digest -> `team/app@sha256:...`.
    static func reference(ofPath path: Substring) -> String? {
        let bytes = Array(path.utf8), marker = Array("/manifests/".utf8)
        guard bytes.starts(with: "/v2/".utf8) else { return nil }
        var index = bytes.count - marker.count
        while index > 4, !bytes[index..<index + marker.count].elementsEqual(marker) { index -= 1 }
        guard index > 4, index + marker.count < bytes.count else { return nil }
        let name = String(decoding: bytes[4..<index], as: UTF8.self)
        let reference = String(decoding: bytes[(index + marker.count)...], as: UTF8.self)
        return name + (reference.contains(":") ? "@" : ":") + reference
    }

    /// FNV-1a over the bytes: 64 bits, so two paths of one store do not share a count in practice. Over the
    /// contiguous bytes where the path has them (a request's always does): a `Substring.UTF8View` walked byte
    /// by byte cost about 1,000 instructions a manifest path.
    private static func hash(_ path: Substring) -> UInt64 {
        path.utf8.withContiguousStorageIfAvailable { fnv1a($0) } ?? fnv1a(path.utf8)
    }

    private static func fnv1a<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
