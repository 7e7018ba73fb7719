/// A fleet of mirror nodes (`cluster.*`): every node lists the same peers, itself among them, and asks a
/// blob's owner (`Rendezvous`) for it before the upstream.
public struct ClusterOptions {
    /// The default of `cluster.timeout`.
    public static let defaultTimeoutSeconds: Double = 2

    /// Every node's base URL (`http://10.0.0.1:5000`), this one's too.
    public var peers: [String]
    /// This node's URL, one of `peers`.
    public var selfURL: String
    /// How long connecting to a peer may take before the next one is asked.
    public var timeoutSeconds: Double

    public init(peers: [String], selfURL: String, timeoutSeconds: Double = ClusterOptions.defaultTimeoutSeconds) {
        self.peers = peers
        self.selfURL = selfURL
        self.timeoutSeconds = timeoutSeconds
    }

    /// A URL as the nodes compare them: lowercased, without a trailing `/`, with the port written out.
    public static func normalized(_ url: String) -> String {
        var text = url.lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        let hostStart = text.range(of: "://").map { $0.upperBound } ?? text.startIndex
        let authority = text[hostStart...]
        let hasPort = authority.last.map { $0 != "]" } == true && authority.contains(":")
            && authority[authority.index(after: authority.lastIndex(of: ":")!)...].allSatisfy(\.isNumber)
        if !hasPort { text += text.hasPrefix("https://") ? ":443" : ":80" }
        return text
    }
}
