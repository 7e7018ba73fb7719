/// JSON string literals for log lines and response bodies, from any bytes: a hostile path or user agent may carry quotes,
/// control characters or bytes that are not UTF-8, and each line must still parse on its own.
public enum JSONString {
    /// `"…"` with `"`, `\`, control characters (and DEL, U+2028, U+2029, which some JSON readers take for
    /// line ends) escaped; invalid UTF-8 becomes U+FFFD, as String(decoding:) repairs it.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += "\\u"
                let hex = String(scalar.value, radix: 16)
                out += String(repeating: "0", count: 4 - hex.utf8.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// `["…",…]`.
    public static func array(_ items: [String]) -> String {
        "[" + items.map { quoted($0) }.joined(separator: ",") + "]"
    }

    static func quoted<Bytes: Sequence>(bytes: Bytes) -> String where Bytes.Element == UInt8 {
        quoted(String(decoding: Array(bytes), as: UTF8.self))
    }
}
