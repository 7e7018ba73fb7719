import COpenSSL

/// The two primitives Signature V4 needs, over OpenSSL: SHA-256 and HMAC-SHA256, and lowercase hex.
enum SigningCrypto {
    static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &digest)
        return digest
    }

    static func sha256<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        let array = Array(bytes)
        return array.withUnsafeBytes { sha256($0) }
    }

    static func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        let status = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { data in
                EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, keyBytes.baseAddress, keyBytes.count,
                          data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, &out, out.count, &length)
            }
        }
        // Only an OpenSSL without SHA-256 fails here, which this build never links.
        precondition(status != nil && length == 32, "HMAC-SHA256 unavailable in OpenSSL")
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
