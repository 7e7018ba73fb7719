import COpenSSL

/// The lowest protocol version a server accepts, as registry:2's `http.tls.minimumtls` names it.
public enum TLSProtocolVersion: String, CaseIterable, Comparable, Sendable {
    case tls1_0 = "tls1.0"
    case tls1_1 = "tls1.1"
    case tls1_2 = "tls1.2"
    case tls1_3 = "tls1.3"

    var openSSLValue: Int32 {
        switch self {
        case .tls1_0: return TLS1_VERSION
        case .tls1_1: return TLS1_1_VERSION
        case .tls1_2: return TLS1_2_VERSION
        case .tls1_3: return TLS1_3_VERSION
        }
    }

    /// SSL_CTX_set_min_proto_version is a macro Swift cannot call.
    public func setMinimum(on context: OpaquePointer) {
        SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(openSSLValue), nil)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.openSSLValue < rhs.openSSLValue }
}
