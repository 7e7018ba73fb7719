import BerthStorage
import Glibc

/// Everything the UI reads from the store, as blocking calls for the thread pool (never the loop): a
/// repository's tag count and last push (one `readdir` and one `stat` per tag: the tags' current links are
/// replaced on every push), the tags' manifests and configs, a manifest with its referrers, and the store's
/// totals. Work per call is bounded by what one page shows.
struct StoreReader {
    let store: RegistryStore
    let maxManifestBytes = 4 * 1024 * 1024
    /// The children of an index read for its size and platforms (an index of more shows the rest unsized).
    static let maxChildrenRead = 32

    struct Summary {
        let tagCount: Int
        /// Seconds since the epoch: the newest tag link.
        let lastPush: Int?
    }

    func summary(of name: RepositoryName) -> Summary {
        let tags = store.tags(in: name) ?? []
        var newest: Int?
        for text in tags {
            guard let tag = Tag(text), let seconds = Self.modified(store.path(.tagCurrentLink(name, tag))) else { continue }
            newest = max(newest ?? seconds, seconds)
        }
        return Summary(tagCount: tags.count, lastPush: newest)
    }

    struct TagEntry {
        let tag: String
        let digest: Digest
        let pushed: Int?
        let manifest: ManifestDocument?
        /// An image: config and layers; an index: the sum over its children read.
        let bytes: Int64
        let platforms: [String]
        let created: String?
    }

    func tagEntry(_ text: String, in name: RepositoryName) -> TagEntry? {
        guard let tag = Tag(text), let digest = store.resolveTag(tag, in: name) else { return nil }
        let manifest = self.manifest(digest)
        var bytes = manifest?.imageBytes ?? 0
        var platforms: [String] = []
        var created: String?
        if let manifest, manifest.isIndex {
            bytes = 0
            for child in manifest.manifests.prefix(Self.maxChildrenRead) {
                let document = Digest(child.digest).flatMap(self.manifest)
                bytes += document?.imageBytes ?? 0
                if let platform = child.platform { platforms.append(platform) }
                if created == nil, let config = document?.config { created = self.config(config)?.created }
            }
        } else if let config = manifest?.config, let document = self.config(config) {
            created = document.created
            if let platform = document.platform { platforms.append(platform) }
        }
        return TagEntry(tag: text, digest: digest, pushed: Self.modified(store.path(.tagCurrentLink(name, tag))), manifest: manifest,
                        bytes: bytes, platforms: platforms, created: created)
    }

    /// A tag or digest of the repository, resolved, with its manifest's bytes; nil when it is not there.
    func resolve(_ reference: String, in name: RepositoryName) -> (digest: Digest, bytes: [UInt8])? {
        let digest: Digest?
        if reference.contains(":") {
            digest = Digest(reference).flatMap { store.isManifestLinked($0, in: name) ? $0 : nil }
        } else {
            digest = Tag(reference).flatMap { store.resolveTag($0, in: name) }
        }
        guard let digest, let bytes = try? store.readBlob(digest, limit: maxManifestBytes) else { return nil }
        return (digest, bytes)
    }

    func manifest(_ digest: Digest) -> ManifestDocument? {
        (try? store.readBlob(digest, limit: maxManifestBytes)).flatMap { ManifestDocument($0) }
    }

    func config(_ descriptor: ManifestDocument.Descriptor) -> ImageConfigDocument? {
        guard let digest = Digest(descriptor.digest), let bytes = try? store.readBlob(digest, limit: maxManifestBytes) else { return nil }
        return ImageConfigDocument(bytes)
    }

    /// Manifests in the repository whose subject is `digest`, with their artifact type.
    func referrers(of digest: Digest, in name: RepositoryName) -> [(digest: Digest, document: ManifestDocument?)] {
        store.referrers(of: digest, in: name).map { ($0, manifest($0)) }
    }

    /// Seconds since the epoch of a file's last change, nil when it is not there.
    static func modified(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mtim.tv_sec
    }
}
