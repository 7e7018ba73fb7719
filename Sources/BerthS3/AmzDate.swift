import Glibc

/// A signing time in Signature V4's two forms: `20150830T123600Z` (X-Amz-Date) and `20150830` (the scope).
public struct AmzDate: Equatable {
    public let timestamp: String
    public var day: String { String(timestamp.prefix(8)) }

    /// nil unless `timestamp` is `YYYYMMDDTHHMMSSZ`.
    public init?(_ timestamp: String) {
        let bytes = Array(timestamp.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z"),
              bytes.enumerated().allSatisfy({ [8, 15].contains($0.offset) || (48...57).contains($0.element) }) else { return nil }
        self.timestamp = timestamp
    }

    /// The time `seconds` after the Unix epoch, in UTC.
    public init(secondsSinceEpoch seconds: Int) {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        timestamp = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    public static func now() -> AmzDate {
        AmzDate(secondsSinceEpoch: Int(time(nil)))
    }
}
