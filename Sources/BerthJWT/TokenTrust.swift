import COpenSSL

/// What a verifier trusts: registry:2's `rootcertbundle` (an `x5c` chain must end in one of its certificates;
/// a token with only `kid` is matched against the libtrust ids of its certificates' keys), and raw keys (the
/// built-in issuer's own).
public struct TokenTrust: Sendable {
    /// One reference, so that the layout other modules compile against does not change with what is kept here.
    private let storage: Storage

    private final class Storage: Sendable {
        let roots: CertificateStore?
        let keys: [String: TokenPublicKey]
        let verifiedChains = VerifiedChains()

        init(roots: CertificateStore?, keys: [String: TokenPublicKey]) {
            self.roots = roots
            self.keys = keys
        }
    }

    var roots: CertificateStore? { storage.roots }
    var keys: [String: TokenPublicKey] { storage.keys }
    var verifiedChains: VerifiedChains { storage.verifiedChains }

    /// At most this many certificates in a bundle, and this many bytes of PEM.
    static let maxCertificates = 256
    static let maxBundleBytes = 4 * 1024 * 1024

    /// Throws when the PEM holds no certificate, a certificate that cannot be read, or a key no token could use.
    public init(rootCertificateBundlePEM pem: String) throws {
        let bytes = Array(pem.utf8)
        guard bytes.count <= Self.maxBundleBytes else { throw TokenKeyError("the bundle is larger than 4 MiB") }
        // A memory BIO reads the bytes where they are: they must outlive it.
        let (roots, keys) = try bytes.withUnsafeBufferPointer { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { throw TokenKeyError("BIO_new_mem_buf failed") }
            defer { BIO_free(bio) }
            return try Self.read(bio)
        }
        storage = Storage(roots: roots, keys: keys)
    }

    private static func read(_ bio: OpaquePointer) throws -> (CertificateStore, [String: TokenPublicKey]) {
        let store = CertificateStore()
        var keys: [String: TokenPublicKey] = [:]
        var count = 0
        ERR_clear_error()
        while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
            defer {
                X509_free(certificate)
                ERR_clear_error()
            }
            count += 1
            guard count <= maxCertificates else { throw TokenKeyError("more than \(maxCertificates) certificates") }
            guard X509_STORE_add_cert(store.raw, certificate) == 1 || Self.isDuplicate() else {
                throw TokenKeyError("certificate \(count) cannot be added to the store")
            }
            guard let key = X509_get_pubkey(certificate) else { throw TokenKeyError("certificate \(count) has no readable public key") }
            do {
                let publicKey = try TokenPublicKey(taking: key)
                keys[publicKey.keyID] = publicKey
            } catch {
                throw TokenKeyError("certificate \(count): \(error)")
            }
        }
        // The loop ends on the end of the input (PEM_R_NO_START_LINE) or on a block that is not a certificate.
        let last = ERR_peek_last_error()
        ERR_clear_error()
        if last != 0 && ERR_GET_REASON(last) != PEM_R_NO_START_LINE { throw TokenKeyError("a PEM block that is not a certificate") }
        guard count > 0 else { throw TokenKeyError("no certificate in the bundle (registry:2 needs at least one)") }
        return (store, keys)
    }

    public init(keys: [TokenPublicKey]) {
        storage = Storage(roots: nil, keys: Dictionary(keys.map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first }))
    }

    /// The key ids a `kid`-only token may name.
    public var keyIDs: [String] { keys.keys.sorted() }

    private static func isDuplicate() -> Bool {
        let code = ERR_peek_last_error()
        ERR_clear_error()
        return ERR_GET_REASON(code) == X509_R_CERT_ALREADY_IN_HASH_TABLE
    }

    /// The leaf's key when `chain` (DER, leaf first) verifies up to a bundle certificate, as Go's
    /// `x509.Certificate.Verify` does for registry:2: any bundle certificate is an anchor, any extended key usage.
    /// A chain that verified is remembered for a minute (`VerifiedChains`).
    func leafKey(of chain: [[UInt8]], now: Int64) throws -> TokenPublicKey {
        guard roots != nil else { throw TokenRejection(.untrustedKey, "an x5c chain, and no rootcertbundle to verify it") }
        let digest = VerifiedChains.digest(of: chain)
        if let key = try verifiedChains.key(for: digest, now: now) { return key }
        do {
            let key = try verifiedLeafKey(of: chain)
            verifiedChains.insert(digest, key: key, now: now)
            return key
        } catch let rejection as TokenRejection {
            verifiedChains.insert(digest, refusal: rejection, now: now)
            throw rejection
        }
    }

    private func verifiedLeafKey(of chain: [[UInt8]]) throws -> TokenPublicKey {
        guard let roots else { throw TokenRejection(.untrustedKey, "an x5c chain, and no rootcertbundle to verify it") }
        var certificates: [OpaquePointer] = []
        defer { certificates.forEach { X509_free($0) } }
        for der in chain {
            let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
                var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_X509(nil, &pointer, buffer.count)
            }
            guard let parsed else {
                ERR_clear_error()
                throw TokenRejection(.malformed, "an x5c certificate that is not DER")
            }
            certificates.append(parsed)
        }
        guard let leaf = certificates.first, let intermediates = OPENSSL_sk_new_null(), let context = X509_STORE_CTX_new() else {
            throw TokenRejection(.malformed, "an empty x5c chain")
        }
        defer {
            OPENSSL_sk_free(intermediates)
            X509_STORE_CTX_free(context)
            ERR_clear_error()
        }
        for certificate in certificates.dropFirst() { OPENSSL_sk_push(intermediates, UnsafeRawPointer(certificate)) }
        guard X509_STORE_CTX_init(context, roots.raw, leaf, intermediates) == 1 else {
            throw TokenRejection(.untrustedKey, "the x5c chain cannot be checked")
        }
        X509_STORE_CTX_set_flags(context, UInt(X509_V_FLAG_PARTIAL_CHAIN))
        guard X509_verify_cert(context) == 1 else {
            let reason = String(cString: X509_verify_cert_error_string(Int(X509_STORE_CTX_get_error(context))))
            throw TokenRejection(.untrustedKey, "the x5c chain does not verify to the rootcertbundle: \(reason)")
        }
        guard let key = X509_get_pubkey(leaf) else { throw TokenRejection(.untrustedKey, "the x5c leaf has no readable key") }
        do {
            return try TokenPublicKey(taking: key)
        } catch {
            throw TokenRejection(.untrustedKey, "the x5c leaf: \(error)")
        }
    }
}

/// An OpenSSL X509_STORE: read-only once the bundle is in, so shared between verifications.
final class CertificateStore: @unchecked Sendable {
    let raw: OpaquePointer

    init() { raw = X509_STORE_new() }

    deinit { X509_STORE_free(raw) }
}
