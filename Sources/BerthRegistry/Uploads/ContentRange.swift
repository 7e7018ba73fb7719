import BerthHTTP

/// The `Content-Range` of an upload chunk, in the two forms clients send. Both refuse anything but two
/// plain decimal numbers that fit an Int64 (no sign, no `Int64.max + 1`), so the arithmetic that follows
/// cannot overflow on them.
enum ContentRange {
    /// Docker and OCI: `<first>-<last>`, inclusive; a `bytes ` prefix and a `/<size>` suffix are tolerated.
    static func chunk(_ header: String) -> ClosedRange<Int64>? {
        var text = unprefixed(header)
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        guard let (first, last) = bounds(text, separators: ["-"]), last >= first else { return nil }
        return first...last
    }

    /// Kraken: `<start>-<end>` (what its clients send) or `<start>,<end>` (its ENDPOINTS.md), bytes [start, end).
    static func kraken(_ header: String) -> (start: Int64, end: Int64)? {
        guard let (start, end) = bounds(unprefixed(header), separators: ["-", ","]), end >= start else { return nil }
        return (start, end)
    }

    private static func unprefixed(_ header: String) -> Substring {
        let text = Substring(header).trimmingOWS()
        return text.hasPrefix("bytes ") || text.hasPrefix("bytes=") ? text.dropFirst(6) : text
    }

    /// Exactly two numbers around exactly one separator.
    private static func bounds(_ text: Substring, separators: Set<Character>) -> (Int64, Int64)? {
        let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { separators.contains($0) })
        guard parts.count == 2, let first = DecimalDigits.int64(parts[0].trimmingOWS()),
              let second = DecimalDigits.int64(parts[1].trimmingOWS()) else { return nil }
        return (first, second)
    }
}
