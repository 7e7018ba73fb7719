/// A single `Range: bytes=...` request (RFC 9110 §14.1.2) resolved against a representation's size.
public enum ByteRange: Equatable {
    /// Serve `first...last` with 206.
    case satisfiable(first: Int64, last: Int64)
    /// Answer 416 with `Content-Range: bytes */<size>`.
    case unsatisfiable
    /// Ignore the header and serve the whole representation (multiple ranges, other units, bad syntax).
    case ignored

    public static func resolve(_ header: String, size: Int64) -> ByteRange {
        let spec = header.trimmingOWS()
        guard spec.hasPrefix("bytes=") else { return .ignored }
        let set = spec.dropFirst(6)
        guard !set.contains(","), let dash = set.firstIndex(of: "-") else { return .ignored }
        let start = set[..<dash].trimmingOWS()
        let end = set[set.index(after: dash)...].trimmingOWS()
        if start.isEmpty {
            // Suffix range: the last n bytes.
            guard let count = position(end) else { return .ignored }
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .satisfiable(first: max(0, size - count), last: size - 1)
        }
        guard let first = position(start) else { return .ignored }
        var last = size - 1
        if !end.isEmpty {
            guard let requested = position(end), requested >= first else { return .ignored }
            last = min(requested, size - 1)
        }
        guard first < size else { return .unsatisfiable }
        return .satisfiable(first: first, last: last)
    }

    /// A position past `Int64.max` is past the end of any file, so it means what `Int64.max` means here.
    private static func position(_ text: Substring) -> Int64? {
        switch DecimalDigits.parse(text) {
        case .value(let value)?: return value
        case .tooLarge?: return .max
        case nil: return nil
        }
    }
}
