/// Base64 as JOSE writes it (RFC 7515 section 2: the URL alphabet, padding dropped), and the standard alphabet
/// that `x5c` certificates use (RFC 7515 section 4.1.6).
public enum Base64URL {
    private static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let standardAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        encode(bytes, alphabet: urlAlphabet, pad: false)
    }

    public static func encodeStandard<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        encode(bytes, alphabet: standardAlphabet, pad: true)
    }

    /// nil for a symbol outside the URL alphabet, a length no encoding gives, or bits left over in the last
    /// symbol. Padding is accepted when it is exactly what the standard would add (libtrust pads before decoding).
    public static func decode<Symbols: Collection>(_ symbols: Symbols) -> [UInt8]? where Symbols.Element == UInt8 {
        decode(symbols, plus: UInt8(ascii: "-"), slash: UInt8(ascii: "_"), padRequired: false)
    }

    /// The standard alphabet with its padding, as Go's `base64.StdEncoding` reads `x5c`.
    public static func decodeStandard<Symbols: Collection>(_ symbols: Symbols) -> [UInt8]? where Symbols.Element == UInt8 {
        decode(symbols, plus: UInt8(ascii: "+"), slash: UInt8(ascii: "/"), padRequired: true)
    }

    private static func encode<Bytes: Collection>(_ bytes: Bytes, alphabet: [UInt8], pad: Bool) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = second == nil ? nil : iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(group >> 18 & 63)])
            out.append(alphabet[Int(group >> 12 & 63)])
            if second != nil { out.append(alphabet[Int(group >> 6 & 63)]) } else if pad { out.append(UInt8(ascii: "=")) }
            if third != nil { out.append(alphabet[Int(group & 63)]) } else if pad { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func value(of symbol: UInt8, plus: UInt8, slash: UInt8) -> UInt32? {
        switch symbol {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(symbol - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(symbol - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(symbol - UInt8(ascii: "0")) + 52
        case plus: return 62
        case slash: return 63
        default: return nil
        }
    }

    private static func decode<Symbols: Collection>(_ input: Symbols, plus: UInt8, slash: UInt8, padRequired: Bool) -> [UInt8]? where Symbols.Element == UInt8 {
        var symbols = Array(input)
        if symbols.count % 4 == 0 {
            var padding = 0
            while padding < 2, symbols.last == UInt8(ascii: "=") {
                symbols.removeLast()
                padding += 1
            }
            if padding > 0 && (symbols.count + padding) % 4 != 0 { return nil }
        } else if padRequired {
            return nil
        }
        guard symbols.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(symbols.count * 3 / 4)
        var group: UInt32 = 0
        var held = 0
        for symbol in symbols {
            guard let bits = value(of: symbol, plus: plus, slash: slash) else { return nil }
            group = group << 6 | bits
            held += 1
            if held == 4 {
                out.append(UInt8(group >> 16 & 0xff))
                out.append(UInt8(group >> 8 & 0xff))
                out.append(UInt8(group & 0xff))
                group = 0
                held = 0
            }
        }
        switch held {
        case 2:
            guard group & 0xf == 0 else { return nil }
            out.append(UInt8(group >> 4 & 0xff))
        case 3:
            guard group & 0x3 == 0 else { return nil }
            out.append(UInt8(group >> 10 & 0xff))
            out.append(UInt8(group >> 2 & 0xff))
        default:
            break
        }
        return out
    }
}
