/// Sizes on the command line: `1048576`, `512k`, `1M`, `10MiB`, `2g` (binary multiples: k = 1024).
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let lower = text.lowercased()
        let digits = lower.prefix { $0.isNumber }
        guard let value = Int(digits) else { return nil }
        let multiplier: Int
        switch lower.dropFirst(digits.count) {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        default: return nil
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// Durations: `10` or `10s`, `500ms`, `2m`; in milliseconds.
    public static func milliseconds(_ text: String) -> UInt64? {
        let lower = text.lowercased()
        let number = lower.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(number), value > 0 else { return nil }
        let scale: Double
        switch lower.dropFirst(number.count) {
        case "", "s": scale = 1000
        case "ms": scale = 1
        case "m": scale = 60_000
        default: return nil
        }
        return UInt64((value * scale).rounded())
    }
}
