import BerthTLS
import CBerthShims
import COpenSSL
import Glibc

/// TLS for one connection over two BIOs: OpenSSL never touches the socket, so the connection keeps
/// libuv's non-blocking reads and writes and only moves bytes between the two (public for `berth bench`'s
/// connections, BerthBench). Ciphertext read from the
/// socket is decrypted where libuv read it (`lend`, then `keepUnread` before that memory is reused);
/// ciphertext for the socket gathers in a memory BIO. Loop-confined.
public final class TLSSession {
    public enum HandshakeStep {
        case done
        /// Waiting for the peer: send what `takeCiphertext` returns, then feed its answer.
        case wantMore
        case failed(UpstreamError)
    }

    public enum ReadResult {
        case bytes(Int)
        case wantMore
        /// The peer's close_notify.
        case closed
        case failed(String)
    }

    private let ssl: OpaquePointer
    /// Ciphertext from the socket, read by OpenSSL (a slice BIO, see berth_shims.h).
    private let incoming: OpaquePointer
    /// Ciphertext written by OpenSSL, for the socket.
    private let outgoing: OpaquePointer
    private let host: String

    public init(context: TLSContext, host: String) throws {
        guard let ssl = SSL_new(context.raw), let incoming = berth_slice_bio_new(), let outgoing = BIO_new(BIO_s_mem()) else {
            throw UpstreamError.tlsHandshakeFailed(host: host, reason: openSSLErrorReason())
        }
        self.ssl = ssl
        self.incoming = incoming
        self.outgoing = outgoing
        self.host = host
        SSL_set_bio(ssl, incoming, outgoing)
        SSL_set_connect_state(ssl)
        // RFC 6066 §3: SNI carries host names only, never address literals.
        if !isAddressLiteral(host) {
            host.withCString { name in
                _ = SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: name))
            }
        }
        // OpenSSL 3 checks an address literal against the certificate's IP SANs, a name against its DNS SANs.
        if context.verifies, SSL_set1_host(ssl, host) != 1 {
            throw UpstreamError.tlsHandshakeFailed(host: host, reason: "cannot verify \(host): \(openSSLErrorReason())")
        }
    }

    deinit {
        SSL_free(ssl)  // frees both BIOs, which SSL_set_bio gave it
    }

    public func handshake() -> HandshakeStep {
        switch TLSHandshake.step(ssl) {
        case .done: return .done
        case .wantMore: return .wantMore
        case .certificateRejected(let reason): return .failed(.tlsVerificationFailed(host: host, reason: reason))
        case .peerEnded: return .failed(.tlsHandshakeFailed(host: host, reason: "the peer ended the handshake"))
        case .failed(let reason): return .failed(.tlsHandshakeFailed(host: host, reason: reason))
        }
    }

    /// Lends OpenSSL ciphertext just read from the socket, to decrypt in place: valid until `keepUnread`.
    public func lend(_ ciphertext: UnsafeRawBufferPointer) {
        berth_slice_bio_lend(incoming, ciphertext.baseAddress, ciphertext.count)
    }

    /// Copies what OpenSSL has not read of the lent ciphertext (a partial record, or bytes behind a pause), so
    /// its memory can be reused; false when there was no memory for the copy.
    public func keepUnread() -> Bool {
        berth_slice_bio_keep_unread(incoming) == 0
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        ERR_clear_error()
        let count = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        if count > 0 { return .bytes(Int(count)) }
        switch SSL_get_error(ssl, count) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantMore
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: return .failed(openSSLErrorReason())
        }
    }

    public func write(_ plaintext: [UInt8]) -> Bool {
        guard !plaintext.isEmpty else { return true }
        ERR_clear_error()
        return plaintext.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) } == Int32(plaintext.count)
    }

    /// What OpenSSL has produced for the peer since the last call (handshake records, data, alerts).
    public func takeCiphertext() -> [UInt8] {
        let pending = BIO_ctrl_pending(outgoing)
        guard pending > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: pending) { buffer, count in
            count = Int(max(0, BIO_read(outgoing, buffer.baseAddress, Int32(pending))))
        }
    }
}

func isAddressLiteral(_ host: String) -> Bool {
    var storage = in6_addr()
    return inet_pton(AF_INET, host, &storage) == 1 || inet_pton(AF_INET6, host, &storage) == 1
}
