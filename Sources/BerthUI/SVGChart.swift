/// A bar chart as inline SVG, drawn by the server: one bar per value, scaled to the largest, with the largest
/// value written at the top. No script, no library; the text is escaped.
struct SVGChart {
    let width: Int
    let height: Int
    /// Room at the top for the label.
    static let labelHeight = 14

    struct Bar: Equatable {
        let x: Double
        let y: Double
        let width: Double
        let height: Double
    }

    /// Bars fill the width in equal slots (a gap of a fifth of a slot); a value of 0 has no height, the
    /// largest reaches the top of the plot area. Negative values count as 0.
    func bars(_ values: [Double]) -> [Bar] {
        guard !values.isEmpty else { return [] }
        let largest = values.max() ?? 0
        let plot = Double(height - Self.labelHeight)
        let slot = Double(width) / Double(values.count)
        return values.enumerated().map { index, value in
            let scaled = largest > 0 ? max(value, 0) / largest * plot : 0
            return Bar(x: Double(index) * slot + slot * 0.1, y: Double(height) - scaled, width: slot * 0.8, height: scaled)
        }
    }

    func svg(_ values: [Double], title: String, label: (Double) -> String) -> String {
        var text = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(HTMLText.escape(title))\">"
        text += "<title>\(HTMLText.escape(title))</title>"
        text += "<line x1=\"0\" y1=\"\(height)\" x2=\"\(width)\" y2=\"\(height)\" class=\"axis\"/>"
        for bar in bars(values) {
            text += "<rect x=\"\(Self.number(bar.x))\" y=\"\(Self.number(bar.y))\" width=\"\(Self.number(bar.width))\" height=\"\(Self.number(bar.height))\"/>"
        }
        let largest = values.max() ?? 0
        text += "<text x=\"2\" y=\"11\">\(HTMLText.escape(values.isEmpty ? "no data yet" : "max \(label(largest))"))</text></svg>"
        return text
    }

    /// Two decimals at most, no exponent: SVG attributes are read as CSS numbers.
    static func number(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let whole = hundredths / 100, fraction = abs(hundredths % 100)
        if fraction == 0 { return "\(whole)" }
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
