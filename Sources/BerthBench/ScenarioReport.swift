import BerthHTTP
import Foundation

/// One scenario's figures, and their renderings: lines a person reads, one JSON document, or CSV.
public struct ScenarioReport {
    public var name: String
    /// Requests the seeding sent before the load (the server counts them too).
    public var seedRequests: Int
    public var result: RunResult
    /// Token requests the scenario made (seeding and load), over connections of their own.
    public var tokenFetches = 0
    /// 401s answered with a token (seeding and load), not in `result.requests`.
    public var challenges = 0
    /// mirror-cold's per-client and upstream figures.
    public var mirror: MirrorColdFigures?
    /// The scenario's own counts (BenchScenario.counters).
    public var counters: [(String, Int)] = []

    public init(name: String, seedRequests: Int, result: RunResult, tokenFetches: Int = 0, challenges: Int = 0) {
        self.name = name
        self.seedRequests = seedRequests
        self.result = result
        self.tokenFetches = tokenFetches
        self.challenges = challenges
    }

    public static let percentiles: [(label: String, percent: Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)]

    var seconds: Double { Double(result.elapsedNanoseconds) / 1e9 }
    var requestsPerSecond: Double { seconds > 0 ? Double(result.requests) / seconds : 0 }
    var operationsPerSecond: Double { seconds > 0 ? Double(result.operations) / seconds : 0 }
    var bytesPerSecond: Double { seconds > 0 ? Double(result.bytesReceived + result.bytesSent) / seconds : 0 }

    /// Latency figures in microseconds: min, the percentiles, max.
    var latencyMicroseconds: [(String, Double)] { ScenarioReport.microseconds(result.latency) }

    static func microseconds(_ histogram: LatencyHistogram) -> [(String, Double)] {
        var figures = [("min", histogram.count == 0 ? 0 : Double(histogram.min) / 1000)]
        figures += ScenarioReport.percentiles.map { ($0.label, Double(histogram.value(atPercentile: $0.percent)) / 1000) }
        figures.append(("max", Double(histogram.max) / 1000))
        return figures
    }

    /// Error counts by kind: HTTP statuses by number, then `digest`, `connection`, `timeout`, `connect: <reason>`.
    static func errors(_ result: RunResult) -> [(String, Int)] {
        var list = result.errorsByStatus.sorted { $0.key < $1.key }.map { ("\($0.key)", $0.value) }
        if result.digestMismatches > 0 { list.append(("digest", result.digestMismatches)) }
        if result.connectionErrors > 0 { list.append(("connection", result.connectionErrors)) }
        if result.timeouts > 0 { list.append(("timeout", result.timeouts)) }
        list += result.connectFailures.sorted { $0.key < $1.key }.map { ("connect: \($0.key)", $0.value) }
        list += result.tokenFailures.sorted { $0.key < $1.key }.map { ("token: \($0.key)", $0.value) }
        return list
    }

    static func errorText(_ result: RunResult) -> String {
        let list = errors(result)
        return list.isEmpty ? "none" : list.map { "\($0.0) ×\($0.1)" }.joined(separator: ", ")
    }

    public static func text(_ reports: [ScenarioReport], settings: BenchSettings) -> String {
        var out = ""
        for report in reports {
            let result = report.result
            out += "\(report.name)  \(settings.target.url) \(settings.repository):\(settings.tag)  concurrency \(settings.concurrency)\n"
            out += "  \(result.requests) requests, \(result.operations) operations in \(fixed(report.seconds, 2)) s: "
            out += "\(fixed(report.requestsPerSecond, 0)) requests/s, \(fixed(report.bytesPerSecond / 1_048_576, 2)) MiB/s\n"
            out += "  errors: \(errorText(result))\n"
            out += "  latency µs: " + report.latencyMicroseconds.map { "\($0.0) \(fixed($0.1, 1))" }.joined(separator: "  ") + "\n"
            if let images = result.imageLatency {
                out += "  \(images.count) images (\(result.failedImages) failed), \(fixed(report.seconds > 0 ? Double(images.count) / report.seconds : 0, 1)) images/s; "
                out += "image µs: " + microseconds(images).map { "\($0.0) \(fixed($0.1, 1))" }.joined(separator: "  ") + "\n"
            }
            if let mirror = report.mirror { out += mirror.text() }
            if !report.counters.isEmpty { out += "  " + report.counters.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + "\n" }
            if report.seedRequests > 0 { out += "  seeded with \(report.seedRequests) requests\n" }
            if report.tokenFetches > 0 { out += "  \(report.challenges) Bearer challenges answered with \(report.tokenFetches) token requests\n" }
        }
        return out
    }

    public static func json(_ reports: [ScenarioReport], settings: BenchSettings) -> String {
        let scenarios = reports.map { report -> String in
            let result = report.result
            let errors = ScenarioReport.errors(result).map { "\(JSONString.quoted($0.0)):\($0.1)" }.joined(separator: ",")
            let latency = report.latencyMicroseconds.map { "\(JSONString.quoted($0.0)):\(fixed($0.1, 3))" }.joined(separator: ",")
            return "{\"name\":\(JSONString.quoted(report.name)),\"requests\":\(result.requests),\"operations\":\(result.operations),"
                + "\"failed_operations\":\(result.failedOperations),\"seed_requests\":\(report.seedRequests),"
                + "\"seconds\":\(fixed(report.seconds, 6)),\"requests_per_second\":\(fixed(report.requestsPerSecond, 1)),"
                + "\"operations_per_second\":\(fixed(report.operationsPerSecond, 1)),\"bytes_received\":\(result.bytesReceived),"
                + "\"bytes_sent\":\(result.bytesSent),\"bytes_per_second\":\(fixed(report.bytesPerSecond, 1)),"
                + "\"challenges\":\(report.challenges),\"token_fetches\":\(report.tokenFetches),"
                + "\"errors\":{\(errors)},\"error_count\":\(result.errorCount),\"latency_us\":{\(latency)}" + imageFields(result) + (report.mirror?.json() ?? "")
                + report.counters.map { ",\(JSONString.quoted($0.0)):\($0.1)" }.joined() + "}"
        }
        return "{\"target\":\(JSONString.quoted(settings.target.url)),\"repository\":\(JSONString.quoted(settings.repository)),"
            + "\"tag\":\(JSONString.quoted(settings.tag)),\"concurrency\":\(settings.concurrency),\"seed\":\(settings.seed),"
            + "\"scenarios\":[\(scenarios.joined(separator: ","))]}\n"
    }

    /// pull-image's whole-image figures, as more JSON fields.
    static func imageFields(_ result: RunResult) -> String {
        guard let images = result.imageLatency else { return "" }
        let latency = microseconds(images).map { "\(JSONString.quoted($0.0)):\(fixed($0.1, 3))" }.joined(separator: ",")
        return ",\"images\":\(images.count),\"failed_images\":\(result.failedImages),\"image_latency_us\":{\(latency)}"
    }

    /// Errors in one field, `kind=count` joined by `;` (a status, `digest`, `connection`, `connect: reason`).
    public static func csv(_ reports: [ScenarioReport]) -> String {
        let latencyColumns = ["min"] + percentiles.map { $0.label } + ["max"]
        var out = "scenario,requests,operations,failed_operations,seconds,requests_per_second,bytes_per_second,errors,"
            + latencyColumns.map { "latency_\($0)_us" }.joined(separator: ",") + "\n"
        for report in reports {
            let errors = ScenarioReport.errors(report.result).map { "\($0.0)=\($0.1)" }.joined(separator: ";")
            let fields = [report.name, "\(report.result.requests)", "\(report.result.operations)", "\(report.result.failedOperations)",
                          fixed(report.seconds, 6), fixed(report.requestsPerSecond, 1), fixed(report.bytesPerSecond, 1),
                          errors.contains(",") || errors.contains("\"") ? "\"" + errors.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : errors]
                + report.latencyMicroseconds.map { fixed($0.1, 3) }
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
