import Glibc

/// How `mirror-cold` learns how often the mirror asked its upstream for a round's blob: from the upstream's
/// own books, never from the mirror's word. A Berth upstream's `/metrics` (`berth_blob_pulls_total`, a
/// difference over the round), or an access log in Apache combined format (docker-registry's, nginx's):
/// the lines `"GET <path with the digest> HTTP/1.x"`. Neither: the count is unknown, and the report says why.
enum UpstreamFetchCounter {
    case metrics
    case log(path: String)
    case unknown(reason: String)

    static let metricName = "berth_blob_pulls_total"

    var source: String {
        switch self {
        case .metrics: return "metrics"
        case .log: return "log"
        case .unknown: return "none"
        }
    }

    /// `berth_blob_pulls_total`'s value in a Prometheus text exposition, if it is there.
    static func blobPulls(inMetrics text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(metricName) {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, fields[0] == metricName, let value = Double(fields[1]) else { continue }
            return Int(value)
        }
        return nil
    }

    /// GETs of `digest` in an access log's text, one per line that names it in its request line.
    static func gets(of digest: String, inLog text: String) -> Int {
        var count = 0
        for line in text.split(separator: "\n") {
            guard let start = line.range(of: "\"GET /") else { continue }
            let rest = line[start.upperBound...]
            guard let end = rest.range(of: " HTTP/1.") else { continue }
            if rest[..<end.lowerBound].contains(digest) { count += 1 }
        }
        return count
    }

    /// The whole of a file, or nil when it cannot be read.
    static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A value read again until two readings `pause` apart agree (a server logs or publishes after it has
    /// answered; Berth's workers share their figures once a second), at most `tries` times.
    static func settled(pause milliseconds: UInt32, tries: Int = 12, _ read: () throws -> Int) rethrows -> Int {
        var last = try read()
        for _ in 0..<tries {
            usleep(milliseconds * 1000)
            let again = try read()
            if again == last { return again }
            last = again
        }
        return last
    }
}
