import COpenSSL

/// A key that verifies token signatures: an EC key on P-256, P-384 or P-521 (ES256/384/512) or an RSA key of
/// 2048 to 8192 bits (RS256/384/512), as libtrust pairs algorithms with keys. Immutable after init, so any
/// thread may verify with it (OpenSSL 3 EVP_PKEY is safe for concurrent reads).
public final class TokenPublicKey: @unchecked Sendable {
    enum Kind: Equatable {
        /// The size in bytes of each half of a JWS signature.
        case ec(halfSize: Int, algorithm: String)
        case rsa
    }

    let key: OpaquePointer
    let kind: Kind
    /// DER SubjectPublicKeyInfo.
    public let subjectPublicKeyInfo: [UInt8]
    /// The libtrust key id registry:2 puts in (and matches against) a token's `kid`.
    public let keyID: String

    /// The DER SubjectPublicKeyInfo of a public or private key, or nil when OpenSSL cannot encode it.
    static func subjectPublicKeyInfo(of key: OpaquePointer) -> [UInt8]? {
        let count = i2d_PUBKEY(key, nil)
        guard count > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(count))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var out: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_PUBKEY(key, &out)
        }
        return written == count ? der : nil
    }

    /// Takes ownership of `key` (freed here on failure too).
    init(taking key: OpaquePointer) throws {
        self.key = key
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1 else {
                EVP_PKEY_free(key)
                throw TokenKeyError("an EC key without a named curve")
            }
            switch String(cString: name) {
            case "prime256v1", "P-256": kind = .ec(halfSize: 32, algorithm: "ES256")
            case "secp384r1", "P-384": kind = .ec(halfSize: 48, algorithm: "ES384")
            case "secp521r1", "P-521": kind = .ec(halfSize: 66, algorithm: "ES512")
            case let other:
                EVP_PKEY_free(key)
                throw TokenKeyError("an EC key on \(other): only P-256, P-384 and P-521 sign tokens")
            }
        case EVP_PKEY_RSA:
            let bits = EVP_PKEY_get_bits(key)
            guard bits >= 2048 && bits <= 8192 else {
                EVP_PKEY_free(key)
                throw TokenKeyError("an RSA key of \(bits) bits: 2048 to 8192 are accepted")
            }
            kind = .rsa
        default:
            EVP_PKEY_free(key)
            throw TokenKeyError("neither an EC nor an RSA key")
        }
        guard let der = Self.subjectPublicKeyInfo(of: key) else {
            EVP_PKEY_free(key)
            throw TokenKeyError("the public key cannot be encoded")
        }
        subjectPublicKeyInfo = der
        keyID = LibtrustKeyID.of(subjectPublicKeyInfo: der)
    }

    /// From DER SubjectPublicKeyInfo.
    public convenience init(subjectPublicKeyInfo der: [UInt8]) throws {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &pointer, buffer.count)
        }
        ERR_clear_error()
        guard let parsed else { throw TokenKeyError("not a DER public key") }
        try self.init(taking: parsed)
    }

    deinit { EVP_PKEY_free(key) }

    /// The algorithm this key signs with (the first libtrust pairs with it).
    public var algorithm: String {
        switch kind {
        case .ec(_, let algorithm): return algorithm
        case .rsa: return "RS256"
        }
    }

    static func digest(for algorithm: String) -> OpaquePointer? {
        switch algorithm {
        case "ES256", "RS256": return EVP_sha256()
        case "ES384", "RS384": return EVP_sha384()
        case "ES512", "RS512": return EVP_sha512()
        default: return nil
        }
    }

    /// True when `signature` (JWS form) is this key's signature of `message` with `algorithm`, and the algorithm
    /// is one this key signs with (no RS256 with an EC key, no ES384 with a P-256 key).
    func verifies(_ signature: [UInt8], of message: [UInt8], algorithm: String) -> Bool {
        guard let digest = Self.digest(for: algorithm) else { return false }
        var der = signature
        switch kind {
        case .ec(let halfSize, let expected):
            guard algorithm == expected, let converted = ECDSASignature.der(fromRaw: signature, size: halfSize) else { return false }
            der = converted
        case .rsa:
            guard algorithm.hasPrefix("RS"), signature.count == Int(EVP_PKEY_get_size(key)) else { return false }
        }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer {
            EVP_MD_CTX_free(context)
            ERR_clear_error()
        }
        guard EVP_DigestVerifyInit(context, nil, digest, nil, key) == 1 else { return false }
        return EVP_DigestVerify(context, der, der.count, message, message.count) == 1
    }
}

/// A key that cannot be used to sign or verify tokens, said without its material.
public struct TokenKeyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
