/// The order in which a bounded mirror cache gives blobs up (`cache.maxsize`): first those no tag needs,
/// then the others, each group least recently used first. A blob's last use is the mtime of its data file,
/// refreshed when a mirror serves it (`markBlobUsed`), so every worker process and a restart agree. It lives
/// here, beside the garbage collector that evicts, since storage knows no mirror; the mirror's other
/// caching rules are `MirrorCachePolicy` (BerthRegistry).
public enum EvictionOrder {
    /// `blobs` as (digest, size, last use in seconds), in the order they are to go; `needed` are the blobs
    /// some tag's manifest references.
    public static func sorted(_ blobs: [(Digest, Int64, Double)], needed: Set<Digest>) -> [(Digest, Int64, Double)] {
        blobs.sorted { first, second in
            let (firstNeeded, secondNeeded) = (needed.contains(first.0), needed.contains(second.0))
            return firstNeeded != secondNeeded ? !firstNeeded : first.2 < second.2
        }
    }
}
