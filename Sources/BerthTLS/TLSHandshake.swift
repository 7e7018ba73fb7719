import COpenSSL

/// One step of a handshake on a session that moves ciphertext through BIOs, as the server (BerthHTTP) and the
/// upstream client (BerthUpstream) both run it; each says the outcome in its own terms.
public enum TLSHandshake {
    public enum Outcome: Equatable {
        case done
        /// Waiting for the peer: send what the session wrote, then feed its answer.
        case wantMore
        /// The peer's certificate did not verify: X509's reason.
        case certificateRejected(String)
        /// The peer closed during the handshake (no alert, or close_notify).
        case peerEnded
        case failed(String)
    }

    public static func step(_ ssl: OpaquePointer) -> Outcome {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .done }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return .wantMore }
        let verification = SSL_get_verify_result(ssl)
        if verification != Int(X509_V_OK) {
            ERR_clear_error()
            return .certificateRejected(String(cString: X509_verify_cert_error_string(verification)))
        }
        if error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN {
            ERR_clear_error()
            return .peerEnded
        }
        return .failed(OpenSSLError.reason())
    }
}
