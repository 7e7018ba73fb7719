import CBerthShims
import COpenSSL

/// TLS for one accepted connection over two BIOs of Berth's own: OpenSSL never touches the socket, so the
/// connection keeps libuv's non-blocking reads and writes (and its deadlines) and only moves bytes between the
/// two. OpenSSL reads the ciphertext where libuv read it (lent, and only what it did not take is copied) and
/// writes into one buffer kept for the connection, which goes to the socket from where it lies: memory BIOs
/// cost a copy each way, a zeroed growth and a fresh array per answer (about 1 us of a kept-alive manifest
/// GET). Loop-confined.
public final class TLSServerSession {
    public enum HandshakeStep: Equatable {
        case done
        /// Waiting for the peer: send `pendingCiphertext`, then lend its answer.
        case wantMore
        case failed(String)
    }

    public enum ReadResult: Equatable {
        case bytes(Int)
        case wantMore
        /// The peer's close_notify.
        case closed
        case failed(String)
    }

    /// The largest TLS record's plaintext (RFC 8446 §5.1): a write is cut into records of this size.
    public static let recordSize = 16 * 1024

    private let ssl: OpaquePointer
    /// Ciphertext from the socket, read by OpenSSL (slice_bio.c).
    private let incoming: OpaquePointer
    /// Ciphertext written by OpenSSL, for the socket (sink_bio.c).
    private let outgoing: OpaquePointer

    public init(context: TLSServerContext) throws {
        guard let ssl = SSL_new(context.raw) else { throw TLSSetupError("SSL_new failed: \(OpenSSLError.reason())") }
        guard let incoming = berth_slice_bio_new() else {
            SSL_free(ssl)
            throw TLSSetupError("BIO_new failed: \(OpenSSLError.reason())")
        }
        guard let outgoing = berth_sink_bio_new() else {
            BIO_free(incoming)
            SSL_free(ssl)
            throw TLSSetupError("BIO_new failed: \(OpenSSLError.reason())")
        }
        self.ssl = ssl
        self.incoming = incoming
        self.outgoing = outgoing
        SSL_set_bio(ssl, incoming, outgoing)
        SSL_set_accept_state(ssl)
    }

    deinit {
        SSL_free(ssl)  // frees both BIOs, which SSL_set_bio gave it
    }

    public func handshake() -> HandshakeStep {
        switch TLSHandshake.step(ssl) {
        case .done: return .done
        case .wantMore: return .wantMore
        case .certificateRejected(let reason): return .failed("client certificate: \(reason)")
        case .peerEnded: return .failed("the client ended the handshake")
        case .failed(let reason): return .failed(reason)
        }
    }

    /// Lends OpenSSL ciphertext just read from the socket, to decrypt where it lies: valid until `keepUnread`.
    public func lend(_ ciphertext: UnsafeRawBufferPointer) {
        berth_slice_bio_lend(incoming, ciphertext.baseAddress, ciphertext.count)
    }

    /// Copies what OpenSSL has not read of the lent ciphertext (a partial record, or records behind a paused
    /// parser), so that its memory can be reused; false when there was no memory for the copy.
    public func keepUnread() -> Bool {
        berth_slice_bio_keep_unread(incoming) == 0
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        // Nothing lent or kept and nothing decrypted inside: SSL_read would only say so (a kept-alive request
        // is one record, so this saves a call, an error-queue clear and SSL_get_error on every request).
        guard BIO_ctrl_pending(incoming) > 0 || SSL_has_pending(ssl) == 1 else { return .wantMore }
        clearErrors()
        let count = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if count > 0 { return .bytes(Int(count)) }
        switch SSL_get_error(ssl, count) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantMore
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: return .failed(OpenSSLError.reason())
        }
    }

    /// Encrypts `plaintext` into records of at most 16 KiB, for `pendingCiphertext`. The sink BIO takes every
    /// write (it grows), so a write fails only when the session did (false). No SSL_get_error follows, so the
    /// error queue is not looked at first (a peek of it costs ~250 instructions: every caller that explains a
    /// failure with SSL_get_error clears it before its own call).
    public func write(_ plaintext: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < plaintext.count {
            let count = min(Self.recordSize, plaintext.count - offset)
            guard SSL_write(ssl, plaintext.baseAddress! + offset, Int32(count)) == Int32(count) else { return false }
            offset += count
        }
        return true
    }

    /// SSL_get_error needs an empty error queue before the call it explains. ERR_clear_error walks all of its
    /// slots each time (about 800 instructions); the queue is nearly always empty already, which a peek tells.
    private func clearErrors() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// What OpenSSL has produced for the peer since the last `emptyCiphertext` (handshake records, data,
    /// alerts): valid until the next write into the session or `emptyCiphertext`.
    public var pendingCiphertext: UnsafeRawBufferPointer {
        var count = 0
        let bytes = berth_sink_bio_bytes(outgoing, &count)
        return UnsafeRawBufferPointer(start: bytes, count: count)
    }

    /// Drops the pending ciphertext once the socket (or a queued copy) has it.
    public func emptyCiphertext() {
        berth_sink_bio_empty(outgoing)
    }
}
