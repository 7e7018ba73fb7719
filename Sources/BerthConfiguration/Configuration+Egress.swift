import BerthUpstream

/// The `egress` section: the HTTP proxy through which upstream connections (mirror, Kraken backends, token
/// services) leave, and the hosts reached without it. What the section leaves unset comes from the
/// environment variables of Go and curl clients (`EgressProxySettings`).
extension Configuration {
    static func proxyURL(_ value: Any, _ key: String, _ origin: String) throws -> String {
        let text = try Self.text(value, key, origin)
        do { _ = try ProxyEndpoint(url: text) } catch {
            throw Invalid(description: "\(origin): \(key): \(error)")
        }
        return text
    }

    /// `NO_PROXY`'s comma-separated text, or a YAML list of its entries.
    static func noProxy(_ value: Any, _ key: String, _ origin: String) throws -> String {
        if let list = value as? [Any] {
            return try list.map { try Self.text($0, key, origin) }.joined(separator: ",")
        }
        return try Self.text(value, key, origin)
    }

    /// The routing the upstream clients get: the keys, then the environment. Throws naming the variable
    /// whose proxy URL is unusable.
    static func egressSettings(_ config: Configuration, environment: [String: String]) throws -> EgressProxySettings {
        do {
            return try EgressProxySettings(url: config.egressProxy, username: config.egressProxyUsername,
                                           password: config.egressProxyPassword, noProxy: config.egressNoProxy,
                                           environment: environment)
        } catch {
            throw Invalid(description: "\(error)")
        }
    }
}
