import BerthHTTP
import BerthStorage

/// Recently served manifests, so a GET reads nothing from the disk. An entry is good while its tag or revision
/// link is the same file (links change only by rename): known without a look while the store's change counter
/// stands still (see `LinkCheck`), else by one stat(2). So a tag moved or a manifest deleted by another worker
/// process is seen at once. Bounded in entries and bytes. The entry found last is kept aside and its key
/// compared first: a kept-alive client asks for the same manifest again, and two short Strings compare in a few
/// instructions where hashing them for the dictionary takes hundreds. Loop-confined.
final class ManifestCache {
    /// A class: a hit hands it over with one retain, not one per String and array in it.
    final class Entry {
        /// The tag or revision link the manifest was read by, and the file it was then.
        let linkPath: String
        let identity: FileIdentity
        let digest: Digest
        let mediaType: String
        let bytes: [UInt8]
        /// The header values, made once rather than for every GET.
        let digestText: String
        let etag: String
        /// The 200 answer's Content-Type, Docker-Content-Digest and ETag fields, serialized once.
        let serializedHeaders: [UInt8]
        var check: LinkCheck

        init(linkPath: String, identity: FileIdentity, check: LinkCheck, digest: Digest, mediaType: String, bytes: [UInt8]) {
            self.linkPath = linkPath
            self.check = check
            self.identity = identity
            self.digest = digest
            self.mediaType = mediaType
            self.bytes = bytes
            digestText = digest.description
            etag = "\"\(digestText)\""
            serializedHeaders = HTTPResponse.serialize([("Content-Type", mediaType), ("Docker-Content-Digest", digestText), ("ETag", etag)])
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

    /// The entry found last and its key; nil whenever the dictionary changes.
    private var last: (key: Key, entry: Entry)?

    /// The entry while its link is still the same file.
    func lookup(_ repository: RepositoryName, _ reference: String, in store: RegistryStore, now: UInt64) -> Entry? {
        let entry: Entry
        if let last, last.key.reference == reference, last.key.repository == repository {
            entry = last.entry
        } else {
            let key = Key(repository: repository, reference: reference)
            guard let found = entries[key] else { return nil }
            entry = found
            last = (key, found)
        }
        let changes = store.changes.value
        if entry.check.holds(changes: changes, at: now) { return entry }
        guard store.identity(atPath: entry.linkPath) == entry.identity else { return nil }
        entry.check = LinkCheck(changes: changes, checkedAt: now)
        return entry
    }

    func store(_ entry: Entry, _ repository: RepositoryName, _ reference: String) {
        guard entry.bytes.count <= maxBytes / 64 else { return }
        last = nil
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
