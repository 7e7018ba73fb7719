import BerthHTTP
import BerthUpstream
import BerthStorage

/// This node's view of the fleet of mirrors (`cluster.*`): a client per other node, and for each blob the
/// nodes to ask before the upstream. A node asks, in rendezvous order, every node weighed above itself: the
/// owner first, then the ones that take over from it; it reaches the upstream itself only when all of them
/// failed, or when it is the owner. A peer's own fetch carries `peerHeader`, and a node never forwards such
/// a request, so a blob crosses at most one hop between nodes and every fetch ends at an upstream.
/// Loop-confined.
final class Fleet {
    /// Marks a request as a node's fetch for its own cache: answered from this node's cache or upstream.
    static let peerHeader = "Berth-Peer-Fetch"

    let rendezvous: Rendezvous
    let selfIndex: Int
    /// One client per node, nil for this one. Peers are reached directly: no egress proxy, no credentials.
    private let peers: [RegistryClient?]
    let client: UpstreamClient

    init(options: ClusterOptions, loop: EventLoop, readTimeoutSeconds: Double) throws {
        let mine = ClusterOptions.normalized(options.selfURL)
        guard let selfIndex = options.peers.firstIndex(where: { ClusterOptions.normalized($0) == mine }) else {
            throw UpstreamError.invalidURL(options.selfURL)
        }
        self.selfIndex = selfIndex
        rendezvous = Rendezvous(nodes: options.peers.map(ClusterOptions.normalized))
        var configuration = UpstreamClient.Configuration()
        configuration.connectTimeoutMilliseconds = max(1, UInt64(options.timeoutSeconds * 1000))
        // The owner may itself wait for the upstream's answer before it sends the head.
        configuration.readTimeoutMilliseconds = UInt64(readTimeoutSeconds * 1000)
        configuration.userAgent = "berth-peer"
        let client = try UpstreamClient(loop: loop, configuration: configuration)
        self.client = client
        peers = try options.peers.enumerated().map { index, peer in
            guard index != selfIndex else { return nil }
            guard let url = UpstreamURL(peer) else { throw UpstreamError.invalidURL(peer) }
            return RegistryClient(client: client, baseURL: url, name: "peer \(url.hostHeader)")
        }
    }

    /// The nodes to ask for `digest` before the upstream, owner first; empty on its owner.
    func nodesAbove(_ digest: Digest) -> [RegistryClient] {
        var nodes: [RegistryClient] = []
        for index in rendezvous.ranking(for: digest.description) {
            guard let peer = peers[index] else { break }
            nodes.append(peer)
        }
        return nodes
    }

    func isOwner(of digest: Digest) -> Bool {
        rendezvous.owner(of: digest.description) == selfIndex
    }
}

/// Where a download asks the fleet's nodes for a blob before its upstream: the nodes in order, and the path
/// (with the client's query, `ns=`) that names the same repository and upstream on each of them.
struct PeerRoute {
    let nodes: [RegistryClient]
    let path: String
}
