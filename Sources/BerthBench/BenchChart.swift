import Foundation

/// `--svg FILE`: plain SVG, no script and no dependency. Per scenario, a row of two panels: latency by
/// percentile (the x axis in "nines", -log10(1 - p), so p90, p99 and p99.9 are equally far apart, as
/// HdrHistogram plots it), and requests/s over time from the run's samples. With `--compare` both
/// registries' lines share each panel.
enum BenchChart {
    static let panelWidth = 420.0
    static let panelHeight = 220.0
    static let margin = (left: 64.0, right: 16.0, top: 36.0, bottom: 40.0)
    static let colors = ["#1f77b4", "#d62728"]

    /// A series: its label and its (x, y) points.
    typealias Series = (label: String, points: [(Double, Double)])

    static func svg(_ runs: [(label: String, reports: [ScenarioReport])]) -> String {
        let names = runs.first?.reports.map(\.name) ?? []
        let rowHeight = panelHeight + margin.top + margin.bottom
        let width = 2 * (panelWidth + margin.left + margin.right)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(rowHeight * Double(max(names.count, 1))))\" "
            + "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (row, name) in names.enumerated() {
            let reports = runs.compactMap { run in run.reports.first { $0.name == name }.map { (run.label, $0) } }
            let latency: [Series] = reports.map { (label: $0.0, points: percentileCurve($0.1.result.latency)) }
            let throughput: [Series] = reports.map { (label: $0.0, points: rates($0.1.result.timeline)) }
            let y = Double(row) * rowHeight
            out += panel(x: 0, y: y, title: "\(name): latency by percentile", xLabel: "percentile", yLabel: "ms", series: latency,
                         xTicks: [(0, "p0"), (1, "p90"), (2, "p99"), (3, "p99.9"), (4, "p99.99")])
            out += panel(x: width / 2, y: y, title: "\(name): throughput", xLabel: "seconds", yLabel: "requests/s", series: throughput,
                         xTicks: nil)
        }
        return out + "</svg>\n"
    }

    /// (nines, milliseconds) from p0 up to the largest percentile the count can tell apart.
    static func percentileCurve(_ histogram: LatencyHistogram) -> [(Double, Double)] {
        guard histogram.count > 0 else { return [] }
        let top = min(4.0, log10(Double(histogram.count)))
        return stride(from: 0.0, through: top, by: 0.05).map { nines in
            (nines, Double(histogram.value(atPercentile: 100 * (1 - pow(10, -nines)))) / 1e6)
        } + [(top, Double(histogram.max) / 1e6)]
    }

    /// (seconds, requests/s) of each sampling interval.
    static func rates(_ timeline: [(requests: Int, bytes: Int)]) -> [(Double, Double)] {
        let interval = Double(LoadRun.sampleMilliseconds) / 1000
        var previous = 0
        return timeline.enumerated().map { index, sample in
            defer { previous = sample.requests }
            return (Double(index + 1) * interval, Double(sample.requests - previous) / interval)
        }
    }

    static func panel(x: Double, y: Double, title: String, xLabel: String, yLabel: String, series: [Series],
                      xTicks: [(Double, String)]?) -> String {
        let all = series.flatMap(\.points)
        let maxX = max(all.map(\.0).max() ?? 1, 0.001)
        let maxY = max(all.map(\.1).max() ?? 1, 1e-9) * 1.1
        let left = x + margin.left, top = y + margin.top
        func px(_ value: Double) -> Double { left + value / maxX * panelWidth }
        func py(_ value: Double) -> Double { top + panelHeight - value / maxY * panelHeight }
        var out = "<text x=\"\(f(left))\" y=\"\(f(y + 20))\" font-size=\"13\">\(escape(title))</text>\n"
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(panelWidth))\" height=\"\(f(panelHeight))\" fill=\"none\" stroke=\"#999\"/>\n"
        for step in 0...4 {
            let value = maxY * Double(step) / 4
            out += "<text x=\"\(f(left - 4))\" y=\"\(f(py(value) + 4))\" text-anchor=\"end\">\(number(value))</text>\n"
            out += "<line x1=\"\(f(left))\" x2=\"\(f(left + panelWidth))\" y1=\"\(f(py(value)))\" y2=\"\(f(py(value)))\" stroke=\"#eee\"/>\n"
        }
        var ticks: [(Double, String)] = []
        if let xTicks {
            ticks = xTicks.filter { $0.0 <= maxX + 1e-9 }
        } else {
            for step in 0...4 {
                let value = maxX * Double(step) / 4
                ticks.append((value, number(value)))
            }
        }
        for (value, label) in ticks {
            out += "<text x=\"\(f(px(value)))\" y=\"\(f(top + panelHeight + 14))\" text-anchor=\"middle\">\(escape(label))</text>\n"
        }
        out += "<text x=\"\(f(left + panelWidth / 2))\" y=\"\(f(top + panelHeight + 30))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        let labelX = f(x + 12), labelY = f(top + panelHeight / 2)
        out += "<text x=\"\(labelX)\" y=\"\(labelY)\" transform=\"rotate(-90 \(labelX) \(labelY))\" text-anchor=\"middle\">"
        out += escape(yLabel) + "</text>\n"
        for (index, line) in series.enumerated() where !line.points.isEmpty {
            let color = colors[index % colors.count]
            let points = line.points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points)\"/>\n"
            out += "<text x=\"\(f(left + 8))\" y=\"\(f(top + 14 + 14 * Double(index)))\" fill=\"\(color)\">\(escape(line.label))</text>\n"
        }
        return out
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func number(_ value: Double) -> String {
        value >= 1000 ? String(format: "%.0f", value) : value >= 10 ? String(format: "%.1f", value) : String(format: "%.2f", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
