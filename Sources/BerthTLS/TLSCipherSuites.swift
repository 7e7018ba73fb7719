/// Cipher suites as registry:2 (Go's crypto/tls) names them, mapped to OpenSSL's names: TLS 1.2 suites go to
/// the cipher list, TLS 1.3 suites to the ciphersuites list. Only AEAD suites unless the configuration lists
/// others; RC4 and 3DES are refused, as OpenSSL 3 does not offer them at its default security level.
public struct TLSCipherSuites: Equatable, Sendable {
    /// OpenSSL's `SSL_CTX_set_cipher_list` string (TLS 1.2 and below).
    public let tls12: String
    /// OpenSSL's `SSL_CTX_set_ciphersuites` string (TLS 1.3).
    public let tls13: String

    /// registry:2's default list: AEAD only, forward secret only.
    public static let defaultNames = [
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384",
    ]

    private static let tls12Names: [String: String] = [
        "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
        // Go's older names for the same two.
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    ]

    private static let tls13Names: Set<String> = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]

    /// registry:2 lists these too; OpenSSL 3 here has none of them.
    private static let unavailable: Set<String> = [
        "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    ]

    /// The default names in OpenSSL's spelling (a unit test holds them to `defaultNames`).
    static let defaultTLS12 = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
        + "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
    static let defaultTLS13 = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"
    public static let defaults = TLSCipherSuites(tls12: defaultTLS12, tls13: defaultTLS13)

    private init(tls12: String, tls13: String) {
        self.tls12 = tls12
        self.tls13 = tls13
    }

    /// `names` in the configuration's order (the server's preference). A protocol version none of the names
    /// is for keeps its default AEAD suites, as Go does for TLS 1.3, whose suites it does not let one choose.
    public init(names: [String]) throws {
        var tls12: [String] = []
        var tls13: [String] = []
        for name in names {
            let upper = name.uppercased()
            if let openSSL = Self.tls12Names[upper] {
                if !tls12.contains(openSSL) { tls12.append(openSSL) }
            } else if Self.tls13Names.contains(upper) {
                if !tls13.contains(upper) { tls13.append(upper) }
            } else if Self.unavailable.contains(upper) {
                throw TLSSetupError("\(name) (RC4 or 3DES) is not offered by OpenSSL 3")
            } else {
                throw TLSSetupError("\(name) is not a cipher suite registry:2 names")
            }
        }
        if names.isEmpty || (tls12.isEmpty && tls13.isEmpty) { throw TLSSetupError("no cipher suite given") }
        self.tls12 = tls12.isEmpty ? Self.defaultTLS12 : tls12.joined(separator: ":")
        self.tls13 = tls13.isEmpty ? Self.defaultTLS13 : tls13.joined(separator: ":")
    }
}
