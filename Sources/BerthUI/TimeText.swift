import Glibc

/// Times for people, in UTC: `2026-12-01 17:03 UTC`.
enum TimeText {
    static func utc(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday)) \(pad(parts.tm_hour)):\(pad(parts.tm_min)) UTC"
    }

    /// An RFC 3339 time of a config (`2026-12-01T17:03:19.123456789Z`) shortened the same way; other text as it is.
    static func config(_ text: String) -> String {
        let characters = Array(text)
        guard characters.count >= 16, characters[10] == "T", text.hasSuffix("Z") else { return text }
        return String(characters[0..<10]) + " " + String(characters[11..<16]) + " UTC"
    }
}
