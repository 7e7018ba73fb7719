/// Sizes for people: binary units, one decimal below 10 of a unit ("1.5 KiB", "12 MiB", "512 B").
enum ByteCount {
    static func text(_ bytes: Int64) -> String {
        guard bytes >= 1024 else { return "\(max(bytes, 0)) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if value < 10 {
            let tenths = Int((value * 10).rounded())
            // 9.96 rounds to 10.0: show "10", as the next band would.
            return tenths >= 100 ? "10 \(units[unit])" : "\(tenths / 10).\(tenths % 10) \(units[unit])"
        }
        let whole = Int(value.rounded())
        if whole >= 1024 && unit < units.count - 1 { return "1.0 \(units[unit + 1])" }
        return "\(whole) \(units[unit])"
    }
}
