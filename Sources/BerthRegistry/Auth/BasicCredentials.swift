/// The user and password of an `Authorization: Basic` value (RFC 7617), read as Go's `Request.BasicAuth` reads
/// it for registry:2: the scheme case-insensitively, standard base64 with its padding, split at the first `:`
/// (a user name holds no colon; a password may).
struct BasicCredentials: Equatable {
    let user: String
    let password: [UInt8]

    init(user: String, password: [UInt8]) {
        self.user = user
        self.password = password
    }

    /// nil: another scheme, or not base64 of `user:password`.
    init?(authorization value: String) {
        let bytes = Array(value.utf8)
        let scheme = Array("basic ".utf8)
        guard bytes.count > scheme.count,
              zip(bytes, scheme).allSatisfy({ ($0 | 0x20) == $1 }),
              let decoded = Self.base64Decoded(bytes[scheme.count...]),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        user = String(decoding: decoded[..<colon], as: UTF8.self)
        password = Array(decoded[(colon + 1)...])
    }

    /// RFC 4648 §4 with padding required; Go's decoder skips CR and LF, and so does this.
    static func base64Decoded(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let symbols = text.filter { $0 != 0x0d && $0 != 0x0a }
        guard symbols.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(symbols.count / 4 * 3)
        var index = 0
        while index < symbols.count {
            var group: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let symbol = symbols[index + offset]
                let value: UInt32
                if symbol == UInt8(ascii: "=") {
                    // Padding only at the end of the last group, and at most two.
                    guard index + 4 == symbols.count, offset >= 2 else { return nil }
                    padding += 1
                    value = 0
                } else {
                    guard padding == 0, let decoded = sextet(symbol) else { return nil }
                    value = decoded
                }
                group = group << 6 | value
            }
            out.append(UInt8(truncatingIfNeeded: group >> 16))
            if padding < 2 { out.append(UInt8(truncatingIfNeeded: group >> 8)) }
            if padding < 1 { out.append(UInt8(truncatingIfNeeded: group)) }
            index += 4
        }
        return out
    }

    private static func sextet(_ symbol: UInt8) -> UInt32? {
        switch symbol {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(symbol - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(symbol - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(symbol - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
