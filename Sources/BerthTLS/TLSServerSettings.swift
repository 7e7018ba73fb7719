/// What a TLS listener serves with: registry:2's `http.tls` section, checked (versions and suite names are
/// valid) but not yet loaded; files are read by `TLSServerContext`, again on every reload.
public struct TLSServerSettings: Equatable, Sendable {
    public var certificate: String
    public var key: String
    /// CA files that client certificates must chain to; when any is given, a client certificate is required.
    public var clientCAs: [String]
    public var minimumVersion: TLSProtocolVersion
    public var cipherSuites: TLSCipherSuites

    public init(certificate: String, key: String, clientCAs: [String] = [], minimumVersion: TLSProtocolVersion = .tls1_2,
                cipherSuites: TLSCipherSuites = .defaults) {
        self.certificate = certificate
        self.key = key
        self.clientCAs = clientCAs
        self.minimumVersion = minimumVersion
        self.cipherSuites = cipherSuites
    }
}
