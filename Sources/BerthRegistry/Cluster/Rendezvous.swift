/// Which node of the fleet owns a key (a blob's digest): rendezvous, or highest-random-weight, hashing
/// (Thaler and Ravishankar, 1998). Every node weighs every key with one hash of (node, key); the heaviest
/// node owns it and the next ones, in order, take over when it does not answer. Every node computes the
/// same ranking from the same list, in any order, with no coordination; removing a node moves only the
/// keys it owned (each to its own next node), and adding one takes about 1/n of the keys from the others.
public struct Rendezvous {
    /// The nodes' names (their base URLs), as configured.
    public let nodes: [String]

    public init(nodes: [String]) {
        self.nodes = nodes
    }

    /// The indices of `nodes`, heaviest first for `key`; equal weights (in practice never) fall back to the
    /// name, so that every node still agrees.
    public func ranking(for key: String) -> [Int] {
        let weights = nodes.map { Self.weight(node: $0, key: key) }
        return nodes.indices.sorted { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : nodes[$0] < nodes[$1] }
    }

    public func owner(of key: String) -> Int? {
        ranking(for: key).first
    }

    /// FNV-1a over the node, a separator and the key, then MurmurHash3's 64-bit finalizer: FNV alone mixes its
    /// last bytes poorly, and keys that differ there (digests do anywhere) must weigh independently.
    static func weight(node: String, key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        node.utf8.forEach(mix)
        mix(0)
        key.utf8.forEach(mix)
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash = hash &* 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}
