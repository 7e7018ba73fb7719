/// A decimal number as a client writes it in a header or a query (RFC 9110 `1*DIGIT`): ASCII digits
/// only, no sign, no spaces. Swift's `Int64(_:)` also takes `+5` and `-1`, and arithmetic on what a client
/// sent traps on overflow, so every number from a request goes through here first.
public enum DecimalDigits: Equatable {
    case value(Int64)
    /// Well formed, but past `Int64.max`: callers decide what a number that large means for them.
    case tooLarge

    public static func parse<Text: StringProtocol>(_ text: Text) -> DecimalDigits? {
        parse(utf8: text.utf8)
    }

    private static func parse<Bytes: Sequence<UInt8>>(utf8: Bytes) -> DecimalDigits? {
        var value: Int64 = 0
        var overflowed = false
        var digits = 0
        for byte in utf8 {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            digits += 1
            guard !overflowed else { continue }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(Int64(byte - 0x30))
            if o1 || o2 { overflowed = true } else { value = next }
        }
        guard digits > 0 else { return nil }
        return overflowed ? .tooLarge : .value(value)
    }

    /// The value when it fits, nil for anything else.
    public static func int64<Text: StringProtocol>(_ text: Text) -> Int64? {
        if case .value(let value)? = parse(text) { return value }
        return nil
    }

    /// `int64` over the bytes of a head.
    static func int64(bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        if case .value(let value)? = parse(utf8: bytes) { return value }
        return nil
    }
}
