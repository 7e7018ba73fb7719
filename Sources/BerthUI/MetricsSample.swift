/// Figures read from a Prometheus exposition (what `/metrics` answers, already summed over the workers).
struct MetricsSample {
    private var values: [Substring: Double] = [:]

    init(exposition: String) {
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[line[..<space], default: 0] += value
        }
    }

    /// One series by its full name with labels (`berth_mirror_cache_hits_total{kind="blob"}`).
    subscript(_ series: String) -> Double {
        values[series[...]] ?? 0
    }

    /// The sum of a family's series whose labels contain every one of `matching` (`route="ui_page"`).
    func sum(_ family: String, matching: [String] = [], excluding: [String] = []) -> Double {
        var total = 0.0
        for (series, value) in values {
            guard series.hasPrefix(family) else { continue }
            let rest = series.dropFirst(family.count)
            guard rest.isEmpty || rest.first == "{" else { continue }
            guard matching.allSatisfy({ rest.contains($0) }), !excluding.contains(where: { rest.contains($0) }) else { continue }
            total += value
        }
        return total
    }
}
