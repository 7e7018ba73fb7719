import Glibc

/// Worker processes each count their own requests; every second each writes its exposition to a shared
/// directory, and a scrape answers the sum over the workers (its own figures live, the others' at most a
/// second old), so Prometheus sees the whole server whichever worker it reaches.
enum MetricsAggregation {
    /// Sums series of the same name and labels across expositions; families keep their first HELP/TYPE.
    static func merge(_ expositions: [String]) -> String {
        var familyOrder: [String] = []
        var comments: [String: [Substring]] = [:]
        var seriesOrder: [String: [Substring]] = [:]
        var values: [Substring: Double] = [:]
        for text in expositions {
            var family = ""
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# HELP ") {
                    family = String(line.dropFirst(7).prefix { $0 != " " })
                    if comments[family] == nil {
                        familyOrder.append(family)
                        comments[family] = []
                        seriesOrder[family] = []
                    }
                }
                if line.hasPrefix("#") {
                    if comments[family]?.contains(line) == false { comments[family]?.append(line) }
                    continue
                }
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                let series = line[..<space]
                if values[series] == nil { seriesOrder[family, default: []].append(series) }
                values[series, default: 0] += value
            }
        }
        var out = ""
        for family in familyOrder {
            for comment in comments[family] ?? [] { out += comment + "\n" }
            for series in seriesOrder[family] ?? [] { out += "\(series) \(format(values[series] ?? 0))\n" }
        }
        return out
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// Replaces this worker's snapshot (rename: a reader sees the old file or the new one).
    static func publish(_ text: String, directory: String, worker: Int, suffix: String = ".prom") {
        let path = "\(directory)/worker-\(worker)\(suffix)"
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let written = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        if written == text.utf8.count { rename(temporary, path) } else { unlink(temporary) }
    }

    /// The other workers' snapshots.
    static func snapshots(directory: String, except worker: Int, suffix: String = ".prom") -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var texts: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name.hasPrefix("worker-"), name.hasSuffix(suffix), name != "worker-\(worker)\(suffix)" else { continue }
            let fd = open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                bytes += buffer[..<count]
            }
            close(fd)
            texts.append(String(decoding: bytes, as: UTF8.self))
        }
        return texts
    }
}
