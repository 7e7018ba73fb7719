import BerthHTTP
import Foundation

/// `--compare URL2`: the same scenarios run against two registries (the first one's, then the second's, each
/// seeded alike from the seed), shown side by side with the second's figures over the first's.
public struct CompareReport {
    public var first: [ScenarioReport]
    public var second: [ScenarioReport]

    /// The figures compared: name, value of a report. A ratio over a zero is left out (shown as `-`).
    static let figures: [(String, (ScenarioReport) -> Double)] = [
        ("requests_per_second", { $0.requestsPerSecond }),
        ("operations_per_second", { $0.operationsPerSecond }),
        ("bytes_per_second", { $0.bytesPerSecond }),
        ("latency_p50_us", { Double($0.result.latency.value(atPercentile: 50)) / 1000 }),
        ("latency_p99_us", { Double($0.result.latency.value(atPercentile: 99)) / 1000 }),
        ("errors", { Double($0.result.errorCount) }),
        // pull-image's whole images (0, so no ratio, for the other scenarios).
        ("images_per_second", { report in report.result.imageLatency.map { report.seconds > 0 ? Double($0.count) / report.seconds : 0 } ?? 0 }),
        ("image_p50_us", { Double($0.result.imageLatency?.value(atPercentile: 50) ?? 0) / 1000 }),
        ("image_p99_us", { Double($0.result.imageLatency?.value(atPercentile: 99) ?? 0) / 1000 }),
    ]

    static func ratio(_ a: Double, _ b: Double) -> Double? { a > 0 ? b / a : nil }

    public func text(_ settings: BenchSettings, second target: BenchTarget) -> String {
        var out = ""
        for (a, b) in zip(first, second) {
            out += "\(a.name)  A \(settings.target.url)  B \(target.url)  concurrency \(settings.concurrency)\n"
            out += "  " + "figure".padding(toLength: 22, withPad: " ", startingAt: 0) + pad("A") + pad("B") + pad("B/A") + "\n"
            for (name, value) in CompareReport.figures {
                let ratio = CompareReport.ratio(value(a), value(b)).map { ScenarioReport.fixed($0, 2) } ?? "-"
                out += "  " + name.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + pad(ScenarioReport.fixed(value(a), 1)) + pad(ScenarioReport.fixed(value(b), 1)) + pad(ratio) + "\n"
            }
        }
        return out
    }

    private func pad(_ text: String) -> String {
        String(repeating: " ", count: max(1, 14 - text.count)) + text
    }

    /// `{"runs":[<A's document>,<B's document>],"ratios":[{"name":...,<figure>:B/A or null}]}`.
    public func json(_ settings: BenchSettings, second: BenchSettings) -> String {
        let ratios = zip(first, self.second).map { a, b -> String in
            let fields = CompareReport.figures.map { name, value in
                "\(JSONString.quoted(name)):" + (CompareReport.ratio(value(a), value(b)).map { ScenarioReport.fixed($0, 6) } ?? "null")
            }
            return "{\"name\":\(JSONString.quoted(a.name))," + fields.joined(separator: ",") + "}"
        }
        let documents = [ScenarioReport.json(first, settings: settings), ScenarioReport.json(self.second, settings: second)]
            .map { $0.trimmingCharacters(in: .newlines) }
        return "{\"runs\":[\(documents.joined(separator: ","))],\"ratios\":[\(ratios.joined(separator: ","))]}\n"
    }

    /// ScenarioReport's CSV with a first column `target`: `A` and `B` lines, then `B/A` with the compared figures.
    public func csv() -> String {
        let a = ScenarioReport.csv(first).split(separator: "\n").map(String.init)
        let b = ScenarioReport.csv(second).split(separator: "\n").map(String.init)
        var out = "target," + a[0] + "\n"
        let columns = a[0].split(separator: ",").map(String.init)
        for index in 0..<first.count {
            out += "A," + a[index + 1] + "\n" + "B," + b[index + 1] + "\n"
            let values = Dictionary(uniqueKeysWithValues: CompareReport.figures.map { name, value in
                (name, CompareReport.ratio(value(first[index]), value(second[index])).map { ScenarioReport.fixed($0, 4) } ?? "")
            })
            let row = columns.map { column in column == "scenario" ? first[index].name : values[column] ?? "" }
            out += "B/A," + row.joined(separator: ",") + "\n"
        }
        return out
    }
}
