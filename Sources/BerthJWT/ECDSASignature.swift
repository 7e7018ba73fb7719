/// JWS writes an ECDSA signature as r || s, each left-padded to the curve's size (RFC 7518 section 3.4);
/// OpenSSL reads and writes the DER `ECDSA-Sig-Value` SEQUENCE { INTEGER r, INTEGER s }.
enum ECDSASignature {
    /// nil unless `raw` is exactly two `size`-byte halves.
    static func der(fromRaw raw: [UInt8], size: Int) -> [UInt8]? {
        guard raw.count == 2 * size, size > 0, size <= 66 else { return nil }
        let body = integer(raw[0..<size]) + integer(raw[size...])
        return [0x30] + length(body.count) + body
    }

    /// nil for DER that is not two positive INTEGERs of at most `size` bytes each.
    static func raw(fromDER der: [UInt8], size: Int) -> [UInt8]? {
        var position = 0
        func readLength() -> Int? {
            guard position < der.count else { return nil }
            let first = der[position]
            position += 1
            if first < 0x80 { return Int(first) }
            guard first == 0x81, position < der.count else { return nil }
            position += 1
            return Int(der[position - 1])
        }
        guard der.count >= 2, der[0] == 0x30 else { return nil }
        position = 1
        guard let total = readLength(), position + total == der.count else { return nil }
        var out: [UInt8] = []
        for _ in 0..<2 {
            guard position < der.count, der[position] == 0x02 else { return nil }
            position += 1
            guard let count = readLength(), count > 0, position + count <= der.count else { return nil }
            var value = Array(der[position..<position + count])
            position += count
            while value.count > 1, value[0] == 0 { value.removeFirst() }
            guard value.count <= size else { return nil }
            out += [UInt8](repeating: 0, count: size - value.count) + value
        }
        return position == der.count ? out : nil
    }

    private static func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var value = Array(bytes.drop(while: { $0 == 0 }))
        if value.isEmpty { value = [0] }
        if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
        return [0x02] + length(value.count) + value
    }

    private static func length(_ count: Int) -> [UInt8] {
        count < 0x80 ? [UInt8(count)] : [0x81, UInt8(count)]
    }
}
