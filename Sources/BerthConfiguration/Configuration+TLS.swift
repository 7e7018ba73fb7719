import BerthTLS
import Foundation

/// registry:2's `http.tls`: TLS on `http.addr` when a certificate and key are given.
extension Configuration {
    /// The listener's TLS settings; nil for plain HTTP. The files are read when a server starts (and on reload).
    public var tlsSettings: TLSServerSettings? {
        guard let tlsCertificate, let tlsKey else { return nil }
        // Checked when the configuration was read (`tlsProblem`).
        let suites = (try? TLSCipherSuites(names: tlsCipherSuites)) ?? .defaults
        return TLSServerSettings(certificate: tlsCertificate, key: tlsKey, clientCAs: tlsClientCAs,
                                 minimumVersion: tlsMinimumVersion, cipherSuites: suites)
    }

    /// Why the `http.tls` keys given do not make a listener, or nil. A half-configured TLS never falls back
    /// to plain HTTP.
    var tlsProblem: String? {
        let partial = tlsCertificate != nil || tlsKey != nil || !tlsClientCAs.isEmpty
            || tlsMinimumVersion != .tls1_2 || tlsCipherSuites != TLSCipherSuites.defaultNames
        guard partial, tlsCertificate == nil || tlsKey == nil else { return nil }
        return "http.tls: Berth needs both http.tls.certificate and http.tls.key to serve TLS "
            + "(clientcas, minimumtls and ciphersuites only tune it)"
    }

    /// A path; an empty one (YAML's `certificate: ''`) asks for nothing, as in registry:2.
    static func optionalPath(_ value: Any, _ key: String, _ origin: String) throws -> String? {
        let path = try text(value, key, origin)
        return path.isEmpty ? nil : path
    }

    /// A list of paths: YAML's list, or in a variable one path or `[a, b]`.
    static func paths(_ value: Any, _ key: String, _ origin: String) throws -> [String] {
        try textList(value, key, origin, "a list of paths")
    }

    static func tlsVersion(_ value: Any, _ key: String, _ origin: String) throws -> TLSProtocolVersion {
        let name = try text(value, key, origin)
        guard let version = TLSProtocolVersion(rawValue: name.lowercased()) else {
            throw Invalid(description: "\(origin): \(key): \(name) is not tls1.0, tls1.1, tls1.2 or tls1.3")
        }
        return version
    }

    /// registry:2's (Go's) suite names, checked here so that a misspelt one stops the start; empty: the defaults.
    static func cipherSuites(_ value: Any, _ key: String, _ origin: String) throws -> [String] {
        let names = try textList(value, key, origin, "a list of cipher suite names")
        guard !names.isEmpty else { return TLSCipherSuites.defaultNames }
        do { _ = try TLSCipherSuites(names: names) } catch {
            throw Invalid(description: "\(origin): \(key): \(error)")
        }
        return names
    }

    private static func textList(_ value: Any, _ key: String, _ origin: String, _ expected: String) throws -> [String] {
        if let list = value as? [Any] {
            return try list.map { try text($0, key, origin) }.filter { !$0.isEmpty }
        }
        guard let string = value as? String else { throw Invalid(description: "\(origin): \(key): expected \(expected)") }
        var inner = Substring(string)
        if inner.hasPrefix("[") && inner.hasSuffix("]") { inner = inner.dropFirst().dropLast() }
        return inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
