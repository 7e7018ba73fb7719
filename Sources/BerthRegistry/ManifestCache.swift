import BerthStorage

/// Recently served manifests, so a GET costs one stat(2) of the tag or revision link instead of three reads.
/// An entry is good while that link is the same file (links change only by rename), so a tag moved or a
/// manifest deleted by another worker process is seen at once. Bounded in entries and bytes. Loop-confined.
final class ManifestCache {
    struct Entry {
        /// The tag or revision link the manifest was read by, and the file it was then.
        let linkPath: String
        let identity: FileIdentity
        let digest: Digest
        let mediaType: String
        let bytes: [UInt8]
        /// The header values, made once rather than for every GET.
        let digestText: String
        let etag: String

        init(linkPath: String, identity: FileIdentity, digest: Digest, mediaType: String, bytes: [UInt8]) {
            self.linkPath = linkPath
            self.identity = identity
            self.digest = digest
            self.mediaType = mediaType
            self.bytes = bytes
            digestText = digest.description
            etag = "\"\(digestText)\""
        }
    }

    private struct Key: Hashable {
        let repository: RepositoryName
        let reference: String
    }

    private let maxEntries: Int
    private let maxBytes: Int
    private var entries: [Key: Entry] = [:]
    private var bytes = 0

    init(maxEntries: Int = 4096, maxBytes: Int = 64 << 20) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }

    /// The entry while its link is still the same file: one stat(2), by the path kept in the entry.
    func lookup(_ repository: RepositoryName, _ reference: String, in store: RegistryStore) -> Entry? {
        guard let entry = entries[Key(repository: repository, reference: reference)],
              store.identity(atPath: entry.linkPath) == entry.identity else { return nil }
        return entry
    }

    func store(_ entry: Entry, _ repository: RepositoryName, _ reference: String) {
        guard entry.bytes.count <= maxBytes / 64 else { return }
        let key = Key(repository: repository, reference: reference)
        if let old = entries.removeValue(forKey: key) { bytes -= old.bytes.count }
        // Crude but bounded: when full, start over rather than track recency on the hot path.
        if entries.count >= maxEntries || bytes + entry.bytes.count > maxBytes {
            entries.removeAll(keepingCapacity: true)
            bytes = 0
        }
        entries[key] = entry
        bytes += entry.bytes.count
    }
}
