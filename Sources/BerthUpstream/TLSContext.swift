import BerthTLS
import COpenSSL

/// How the client trusts upstream certificates.
public struct UpstreamTLSConfiguration {
    /// Check the chain and the host name. Off only for upstreams known by other means (tests, labs).
    public var verifyCertificates = true
    /// PEM file of trusted CAs, used instead of the system store (as `curl --cacert` does).
    public var caFile: String?

    public init(verifyCertificates: Bool = true, caFile: String? = nil) {
        self.verifyCertificates = verifyCertificates
        self.caFile = caFile
    }
}

/// One OpenSSL `SSL_CTX` for every TLS connection of a client: trust settings are loaded once. Public for
/// `berth bench`'s connections (BerthBench), which speak TLS with the same trust settings.
public final class TLSContext {
    let raw: OpaquePointer
    let verifies: Bool

    public init(_ configuration: UpstreamTLSConfiguration) throws {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw UpstreamError.tlsConfiguration("SSL_CTX_new failed: \(openSSLErrorReason())")
        }
        raw = context
        verifies = configuration.verifyCertificates
        // TLS 1.0 and 1.1 are obsolete (RFC 8996).
        TLSProtocolVersion.tls1_2.setMinimum(on: context)
        SSL_CTX_set_verify(context, configuration.verifyCertificates ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        ERR_clear_error()
        if let file = configuration.caFile {
            guard SSL_CTX_load_verify_locations(context, file, nil) == 1 else {
                // Thrown after every property is set: deinit frees the context.
                throw UpstreamError.tlsConfiguration("cannot load CA file \(file): \(openSSLErrorReason())")
            }
        } else if SSL_CTX_set_default_verify_paths(context) != 1 {
            throw UpstreamError.tlsConfiguration("cannot use the system CA store: \(openSSLErrorReason())")
        }
    }

    deinit {
        SSL_CTX_free(raw)
    }
}

/// The reason text of OpenSSL's oldest queued error, and the queue emptied (shared with the server: BerthTLS).
func openSSLErrorReason() -> String {
    OpenSSLError.reason()
}
