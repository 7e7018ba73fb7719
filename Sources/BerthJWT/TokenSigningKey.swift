import COpenSSL

/// A private key that signs tokens: ES256 from a P-256 key (ES384/ES512 from P-384/P-521), RS256 from an RSA key.
public final class TokenSigningKey: @unchecked Sendable {
    private let key: OpaquePointer
    public let publicKey: TokenPublicKey

    /// From a PEM private key (PKCS#8 `PRIVATE KEY`, or the traditional `EC PRIVATE KEY` / `RSA PRIVATE KEY`).
    public convenience init(pem: String) throws {
        let bytes = Array(pem.utf8)
        guard bytes.count <= 64 * 1024 else { throw TokenKeyError("not a PEM private key") }
        // A memory BIO reads the bytes where they are: they must outlive it.
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        ERR_clear_error()
        guard let parsed else { throw TokenKeyError("not a PEM private key (an encrypted key is not read)") }
        try self.init(taking: parsed)
    }

    private init(taking key: OpaquePointer) throws {
        self.key = key
        guard let der = TokenPublicKey.subjectPublicKeyInfo(of: key) else {
            EVP_PKEY_free(key)
            throw TokenKeyError("the public key cannot be encoded")
        }
        do {
            publicKey = try TokenPublicKey(subjectPublicKeyInfo: der)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
    }

    deinit { EVP_PKEY_free(key) }

    public static func generateP256() throws -> TokenSigningKey {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nil) else { throw TokenKeyError("EVP_PKEY_CTX_new_id failed") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_ec_paramgen_curve_nid(context, NID_X9_62_prime256v1) == 1,
              EVP_PKEY_keygen(context, &key) == 1, let key else {
            ERR_clear_error()
            throw TokenKeyError("P-256 key generation failed")
        }
        return try TokenSigningKey(taking: key)
    }

    /// Unencrypted PKCS#8 PEM, to write to a file only its owner reads.
    public var pem: String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1 else { return "" }
        var out = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let read = BIO_read(bio, &out, Int32(out.count))
        return String(decoding: out.prefix(Int(max(read, 0))), as: UTF8.self)
    }

    public var keyID: String { publicKey.keyID }
    public var algorithm: String { publicKey.algorithm }

    /// The JWS signature (r || s for EC) of `message`.
    func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard let digest = TokenPublicKey.digest(for: algorithm), let context = EVP_MD_CTX_new() else {
            throw TokenKeyError("no digest for \(algorithm)")
        }
        defer {
            EVP_MD_CTX_free(context)
            ERR_clear_error()
        }
        var length = 0
        guard EVP_DigestSignInit(context, nil, digest, nil, key) == 1,
              EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { throw TokenKeyError("signing failed") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { throw TokenKeyError("signing failed") }
        signature.removeSubrange(length...)
        if case .ec(let halfSize, _) = publicKey.kind {
            guard let raw = ECDSASignature.raw(fromDER: signature, size: halfSize) else { throw TokenKeyError("OpenSSL wrote a signature that is not DER") }
            return raw
        }
        return signature
    }
}
