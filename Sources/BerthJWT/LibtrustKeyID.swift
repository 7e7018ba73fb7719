import COpenSSL

/// The key id registry:2 derives from a public key (docker/libtrust `keyIDFromCryptoKey`): SHA-256 of the DER
/// SubjectPublicKeyInfo, its first 240 bits in base32 (48 symbols, no padding), in 12 groups of 4 joined by ':'.
enum LibtrustKeyID {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    static func of(subjectPublicKeyInfo der: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = der.withUnsafeBufferPointer { SHA256($0.baseAddress, $0.count, &digest) }
        let symbols = base32(digest[0..<30])
        var out = ""
        for (index, symbol) in symbols.enumerated() {
            if index > 0 && index % 4 == 0 { out.append(":") }
            out.unicodeScalars.append(Unicode.Scalar(symbol))
        }
        return out
    }

    /// RFC 4648 base32 of a multiple of 5 bytes (no padding arises).
    static func base32(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var buffer: UInt64 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt64(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int(buffer >> UInt64(bits - 5) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int(buffer << UInt64(5 - bits) & 31)]) }
        return out
    }
}
