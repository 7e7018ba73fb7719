import COpenSSL

/// One OpenSSL `SSL_CTX` for the connections a server accepts: certificate, key, client CAs, versions and
/// suites loaded once, each worker process its own. A reload builds a new one; connections made with the old
/// one keep it (every `SSL` holds a reference to its context) until they close.
public final class TLSServerContext {
    let raw: OpaquePointer
    /// Set when `minimumtls` asks for less than OpenSSL lets through here: what it does instead.
    public private(set) var note: String?

    /// `ticketKeys`: the supervisor's (TLSTicketKeys), so that any worker resumes a session; nil: OpenSSL's own.
    public init(_ settings: TLSServerSettings, ticketKeys: [UInt8]? = nil) throws {
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw TLSSetupError("SSL_CTX_new failed: \(OpenSSLError.reason())")
        }
        raw = context
        ERR_clear_error()
        settings.minimumVersion.setMinimum(on: context)
        // OpenSSL 3's security level 1 and above refuses TLS 1.0 and 1.1 whatever the minimum says; it is
        // never lowered here (registry:2 allows both, on Go's own TLS).
        let level = SSL_CTX_get_security_level(context)
        if settings.minimumVersion < .tls1_2 && level >= 1 {
            note = "http.tls.minimumtls \(settings.minimumVersion.rawValue): OpenSSL refuses TLS below 1.2 at its security level \(level); such clients are still refused"
        }
        guard SSL_CTX_set_cipher_list(context, settings.cipherSuites.tls12) == 1,
              SSL_CTX_set_ciphersuites(context, settings.cipherSuites.tls13) == 1 else {
            throw TLSSetupError("http.tls.ciphersuites: OpenSSL takes none of them: \(OpenSSLError.reason())")
        }
        // The server's order of suites, as Go's PreferServerCipherSuites; no renegotiation (it is a DoS lever).
        SSL_CTX_set_options(context, berth_ssl_op_cipher_server_preference | berth_ssl_op_no_renegotiation)
        // Read-ahead, as nginx sets it: a record is taken from the lent ciphertext in one BIO read, not its
        // 5-byte header and then its body in two (what is left over waits in OpenSSL, which SSL_has_pending
        // reports, as records decrypted and not yet read did before).
        SSL_CTX_ctrl(context, SSL_CTRL_SET_READ_AHEAD, 1, nil)
        guard SSL_CTX_use_certificate_chain_file(context, settings.certificate) == 1 else {
            throw TLSSetupError("http.tls.certificate \(settings.certificate): \(OpenSSLError.reason())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, settings.key, SSL_FILETYPE_PEM) == 1 else {
            throw TLSSetupError("http.tls.key \(settings.key): \(OpenSSLError.reason())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSSetupError("http.tls.key \(settings.key) does not belong to http.tls.certificate \(settings.certificate)")
        }
        if !settings.clientCAs.isEmpty {
            try Self.requireClientCertificates(context, settings.clientCAs)
        }
        // Resumption: a server-side session cache for TLS 1.2 session ids, tickets (on by default) for both.
        // The id context must be set when client certificates are verified, or every resumption fails.
        let name = Array("berth".utf8)
        SSL_CTX_set_session_id_context(context, name, UInt32(name.count))
        SSL_CTX_ctrl(context, SSL_CTRL_SET_SESS_CACHE_MODE, Int(SSL_SESS_CACHE_SERVER), nil)
        if var keys = ticketKeys, SSL_CTX_ctrl(context, SSL_CTRL_SET_TLSEXT_TICKET_KEYS, keys.count, &keys) != 1 {
            throw TLSSetupError("cannot set the session ticket keys: \(OpenSSLError.reason())")
        }
        SSL_CTX_set_alpn_select_cb(context, { _, out, outLength, offered, offeredLength, _ in
            // Only HTTP/1.1; a client that offers something else goes on without ALPN rather than fail.
            TLSServerContext.http11.withUnsafeBufferPointer { ours in
                var chosen: UnsafeMutablePointer<UInt8>?
                var length: UInt8 = 0
                let result = SSL_select_next_proto(&chosen, &length, ours.baseAddress, UInt32(ours.count), offered, offeredLength)
                guard result == OPENSSL_NPN_NEGOTIATED, let chosen else { return SSL_TLSEXT_ERR_NOACK }
                out!.pointee = UnsafePointer(chosen)
                outLength!.pointee = length
                return SSL_TLSEXT_ERR_OK
            }
        }, nil)
    }

    /// ALPN's wire form of `http/1.1`: a length byte, then the name. Static, so the pointer chosen from it
    /// stays valid after the callback returns.
    private static let http11: [UInt8] = [8] + Array("http/1.1".utf8)

    /// Mutual TLS as registry:2 does it (Go's RequireAndVerifyClientCert): a client without a certificate that
    /// chains to one of `files` is refused in the handshake.
    private static func requireClientCertificates(_ context: OpaquePointer, _ files: [String]) throws {
        guard let names = OPENSSL_sk_new_null() else { throw TLSSetupError("http.tls.clientcas: \(OpenSSLError.reason())") }
        for file in files {
            guard SSL_CTX_load_verify_locations(context, file, nil) == 1,
                  SSL_add_file_cert_subjects_to_stack(names, file) == 1 else {
                OPENSSL_sk_free(names)
                throw TLSSetupError("http.tls.clientcas \(file): \(OpenSSLError.reason())")
            }
        }
        // The names go in the CertificateRequest, so a client picks the certificate that these CAs signed.
        SSL_CTX_set_client_CA_list(context, names)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
    }

    deinit {
        SSL_CTX_free(raw)
    }
}
