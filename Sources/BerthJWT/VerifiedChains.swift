import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// x5c chains that verified to the bundle, by the SHA-256 of their certificates, with the leaf's key. An issuer
/// puts the same chain in every token, and checking it costs more than a millisecond (OpenSSL 3 decodes each
/// certificate and verifies the chain's signatures), ten times the token's own signature check: a chain is
/// checked once a minute (a certificate that expires is honoured at most that long after, as exp has 60 s of
/// leeway), at most 64 chains kept. A chain that did not verify is remembered the same way, apart, so that a
/// client repeating a bad one costs a lookup and one changing it each time cannot push the good ones out.
/// Shared by the copies of a TokenTrust, so locked.
final class VerifiedChains: @unchecked Sendable {
    static let lifetimeSeconds: Int64 = 60
    static let capacity = 64

    private var mutex = pthread_mutex_t()
    private var entries: [[UInt8]: (key: TokenPublicKey, until: Int64)] = [:]
    private var refusals: [[UInt8]: (rejection: TokenRejection, until: Int64)] = [:]

    init() { pthread_mutex_init(&mutex, nil) }

    deinit { pthread_mutex_destroy(&mutex) }

    static func digest(of chain: [[UInt8]]) -> [UInt8] {
        var context = SHA256_CTX()
        SHA256_Init(&context)
        for certificate in chain {
            var length = UInt32(certificate.count).bigEndian
            withUnsafeBytes(of: &length) { _ = SHA256_Update(&context, $0.baseAddress, 4) }
            _ = certificate.withUnsafeBufferPointer { SHA256_Update(&context, $0.baseAddress, $0.count) }
        }
        var digest = [UInt8](repeating: 0, count: 32)
        SHA256_Final(&digest, &context)
        return digest
    }

    /// The leaf's key of a chain that verified; throws the rejection of one that did not; nil for one not seen.
    func key(for digest: [UInt8], now: Int64) throws -> TokenPublicKey? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let refusal = refusals[digest], now < refusal.until { throw refusal.rejection }
        guard let entry = entries[digest], now < entry.until else { return nil }
        return entry.key
    }

    func insert(_ digest: [UInt8], refusal: TokenRejection, now: Int64) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if refusals.count >= Self.capacity { refusals = refusals.filter { now < $0.value.until } }
        if refusals.count >= Self.capacity { refusals.removeAll() }
        refusals[digest] = (refusal, now + Self.lifetimeSeconds)
    }

    func insert(_ digest: [UInt8], key: TokenPublicKey, now: Int64) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if entries.count >= Self.capacity { entries = entries.filter { now < $0.value.until } }
        if entries.count >= Self.capacity { entries.removeAll() }
        entries[digest] = (key, now + Self.lifetimeSeconds)
    }
}
