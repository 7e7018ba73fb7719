/// A content digest `algorithm:encoded` (OCI image-spec "Digests"). Only sha256 is stored.
public struct Digest: Hashable, CustomStringConvertible {
    public let algorithm: String
    public let encoded: String

    /// Parses a digest, accepting only the OCI grammar with a sha256 (64 lowercase hex) or sha512 (128) value.
    public init?(_ text: some StringProtocol) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let algorithm = String(text[..<colon])
        let encoded = String(text[text.index(after: colon)...])
        let expectedLength: Int
        switch algorithm {
        case "sha256": expectedLength = 64
        case "sha512": expectedLength = 128
        default: return nil
        }
        guard encoded.utf8.count == expectedLength, encoded.utf8.allSatisfy(Digest.isLowerHex) else { return nil }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    public init(sha256 bytes: [UInt8]) {
        algorithm = "sha256"
        encoded = Digest.hex(bytes)
    }

    /// The digest of `bytes`, computed with OpenSSL.
    public static func sha256(of bytes: UnsafeRawBufferPointer) -> Digest {
        var hasher = SHA256Hasher()
        hasher.update(bytes)
        return hasher.digest
    }

    public static func sha256(of bytes: [UInt8]) -> Digest {
        bytes.withUnsafeBytes { sha256(of: $0) }
    }

    public var description: String { "\(algorithm):\(encoded)" }
    public var isSHA256: Bool { algorithm == "sha256" }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
    }
}
