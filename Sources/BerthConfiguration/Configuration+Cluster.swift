import BerthRegistry
import BerthUpstream
import Foundation

/// `cluster.*`: this mirror is a node of a fleet (`ClusterOptions`). Every node lists the same `peers`, and
/// names itself with `self` (one of them), since a listen address such as `:5000` cannot tell which peer URL
/// reaches it.
extension Configuration {
    /// More nodes than this would make the ranking of every cold blob a noticeable cost, and no fleet needs them.
    static let maxPeers = 64

    public var clusterOptions: ClusterOptions? {
        guard !clusterPeers.isEmpty, let clusterSelf else { return nil }
        return ClusterOptions(peers: clusterPeers, selfURL: clusterSelf, timeoutSeconds: clusterTimeout)
    }

    /// Why the `cluster` keys do not make a node Berth can run, or nil. A node refuses what its peers could
    /// not honour rather than serve a fleet more open, or less consistent, than configured.
    var clusterProblem: String? {
        guard !clusterPeers.isEmpty || clusterSelf != nil else { return nil }
        guard let clusterSelf else {
            return "cluster.self is not set: a node of cluster.peers must say which of them it is (its own URL, as the others reach it)"
        }
        guard !clusterPeers.isEmpty else { return "cluster.self is set without cluster.peers, the list of the fleet's nodes" }
        let mine = ClusterOptions.normalized(clusterSelf)
        guard clusterPeers.contains(where: { ClusterOptions.normalized($0) == mine }) else {
            return "cluster.self: \(clusterSelf) is not one of cluster.peers; every node lists them all, itself too"
        }
        guard proxyRemoteURL != nil || !mirrors.isEmpty else {
            return "cluster.peers: a fleet is one of pull-through mirrors: set proxy.remoteurl (or mirrors) on every node"
        }
        if htpasswdPath != nil || htpasswdRealm != nil || tokenRealm != nil || builtin.isSet {
            return "cluster.peers: Berth's nodes fetch blobs from each other without credentials, so a node with auth.* "
                + "would serve its blobs to anyone through its peers; run the fleet without auth (behind an authenticating proxy)"
        }
        if tlsCertificate != nil || tlsKey != nil {
            return "cluster.peers: Berth's nodes talk plain HTTP to each other; a node serving http.tls cannot be a peer yet "
                + "(terminate TLS at the load balancer)"
        }
        if !krakenNamespaces.isEmpty {
            return "cluster.peers: kraken.namespaces are served by each node alone; a fleet serves mirrors only"
        }
        return nil
    }

    /// A list of peer URLs: YAML's list, or in a variable `http://a:5000,http://b:5000` (commas or spaces, or `[a, b]`).
    static func peerURLs(_ value: Any, _ key: String, _ origin: String) throws -> [String] {
        let items: [Any]
        if let list = value as? [Any] {
            items = list
        } else if let text = value as? String {
            var inner = Substring(text.trimmingCharacters(in: .whitespaces))
            if inner.hasPrefix("[") && inner.hasSuffix("]") { inner = inner.dropFirst().dropLast() }
            items = inner.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        } else {
            throw Invalid(description: "\(origin): \(key): expected a list of node URLs such as http://10.0.0.1:5000")
        }
        guard items.count <= maxPeers else { throw Invalid(description: "\(origin): \(key): at most \(maxPeers) nodes") }
        let urls = try items.map { try peerURL($0, key, origin) }
        let normalized = urls.map(ClusterOptions.normalized)
        if let twice = normalized.first(where: { url in normalized.filter { $0 == url }.count > 1 }) {
            throw Invalid(description: "\(origin): \(key): \(twice) is listed twice")
        }
        return urls
    }

    /// One node's base URL: `http://host:port`, nothing else (no credentials, path or query).
    static func peerURL(_ value: Any, _ key: String, _ origin: String) throws -> String {
        let text = try Configuration.text(value, key, origin).trimmingCharacters(in: .whitespaces)
        if text.lowercased().hasPrefix("https://") {
            throw Invalid(description: "\(origin): \(key): \(text): Berth's nodes talk plain HTTP to each other (https peers are not supported)")
        }
        guard text.lowercased().hasPrefix("http://"), let url = UpstreamURL(text), !url.host.isEmpty,
              url.username == nil, url.password == nil, url.target == "/" || url.target.isEmpty,
              !text.dropFirst("http://".count).contains("@") else {
            throw Invalid(description: "\(origin): \(key): \(text) is not a node's base URL such as http://10.0.0.1:5000")
        }
        return text
    }

    static func optionalPeerURL(_ value: Any, _ key: String, _ origin: String) throws -> String? {
        try peerURL(value, key, origin)
    }

    /// How long connecting to a peer may take: from 10 ms to a minute.
    static func peerTimeout(_ value: Any, _ key: String, _ origin: String) throws -> Double {
        let seconds = try duration(value, key, origin)
        guard seconds >= 0.01, seconds <= 60 else { throw Invalid(description: "\(origin): \(key): \(value) is not from 10ms to 60s") }
        return seconds
    }
}
