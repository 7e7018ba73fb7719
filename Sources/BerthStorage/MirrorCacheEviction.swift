import Glibc

/// Removes one tag, one manifest or one repository from a mirror's cache (`berth cache evict`), so that the
/// next pull fetches it from the upstream again. Safe beside a running server on the same root: the mirror looks
/// up tags and revisions on disk for every request, and every removal here raises the change counter, which
/// is what lets a worker's in-memory manifests and open blobs stand (see `ManifestCache`, `OpenBlobCache`).
///
/// What goes: the tag (or every tag pointing at the manifest), the manifest revisions of the evicted image
/// (an index's children too) that nothing left in the repository references, and the layer links of the
/// blobs only they referenced. A repository left with no manifest goes whole. The blobs then referenced by
/// no manifest in any repository are removed at once, by garbage collection's own protocol (its lock, the
/// shard locks and its epoch, see `RegistryStore.referencing`): a blob some request made referenced meanwhile
/// stays. While a sweep holds the collection lock, they are left to the next one.
public struct MirrorCacheEviction {
    public enum Entry: CustomStringConvertible {
        case tag(RepositoryName, Tag)
        case manifest(RepositoryName, Digest)
        case repository(RepositoryName)

        public var repository: RepositoryName {
            switch self {
            case .tag(let name, _), .manifest(let name, _), .repository(let name): return name
            }
        }

        public var description: String {
            switch self {
            case .tag(let name, let tag): return "\(name):\(tag)"
            case .manifest(let name, let digest): return "\(name)@\(digest)"
            case .repository(let name): return name.value
            }
        }
    }

    public struct NotCached: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Report {
        public var removedTags: [String] = []
        public var removedManifests: [Digest] = []
        public var unlinkedLayers = 0
        public var removedRepository = false
        public var removedBlobs: [(digest: Digest, size: Int64)] = []
        /// Unreferenced now, left to the next sweep (one was running), or spared (used since).
        public var blobsLeft = 0
        public var removedBytes: Int64 { removedBlobs.reduce(0) { $0 + $1.size } }
    }

    let store: RegistryStore

    public init(store: RegistryStore) {
        self.store = store
    }

    public func evict(_ entry: Entry) throws -> Report {
        let name = entry.repository
        guard store.repositoryExists(name) else { throw NotCached(description: "\(name): no such repository in the cache") }
        let closures = ManifestClosures(GarbageCollector(store: store, options: GarbageCollector.Options()))
        var report = Report()
        let roots: [Digest]
        switch entry {
        case .tag(_, let tag):
            guard let digest = store.resolveTag(tag, in: name) else { throw NotCached(description: "\(entry): no such tag in the cache") }
            try store.deleteTag(tag, in: name)
            report.removedTags.append(tag.value)
            roots = [digest]
        case .manifest(_, let digest):
            guard store.isManifestLinked(digest, in: name) else {
                throw NotCached(description: "\(entry): no such manifest in the cache")
            }
            report.removedTags = taggedAs(digest, in: name)
            roots = [digest]
        case .repository:
            roots = store.manifestRevisions(in: name)
        }
        let evicted = roots.reduce(into: Set<Digest>()) { $0.formUnion(closures[$1]) }
        var candidates = evicted
        if case .repository = entry {
            report.removedTags = (store.tags(in: name) ?? [])
            report.removedManifests = roots
            candidates.formUnion(store.layerLinks(in: name))
            report.unlinkedLayers = store.layerLinks(in: name).count
            removeRepository(name)
            report.removedRepository = true
        } else {
            let forced: [Digest]
            if case .manifest = entry { forced = roots } else { forced = [] }
            try unlink(evicted, in: name, removing: forced, closures: closures, report: &report)
        }
        try removeUnreferenced(candidates, report: &report)
        return report
    }

    private func taggedAs(_ digest: Digest, in name: RepositoryName) -> [String] {
        (store.tags(in: name) ?? []).filter { Tag($0).flatMap { store.resolveTag($0, in: name) } == digest }
    }

    /// Removes the revisions in `evicted` and the layer links of its blobs that what stays in the repository does
    /// not reference: the other tags' images and the revisions outside what is evicted. An evicted tag's manifest
    /// stays while another tag needs it; a manifest evicted by digest goes (with its tags), as a DELETE does.
    private func unlink(_ evicted: Set<Digest>, in name: RepositoryName, removing forced: [Digest], closures: ManifestClosures,
                        report: inout Report) throws {
        var kept = Set<Digest>()
        for tag in (store.tags(in: name) ?? []).compactMap(Tag.init) {
            if let digest = store.resolveTag(tag, in: name), !forced.contains(digest) { kept.formUnion(closures[digest]) }
        }
        for digest in store.manifestRevisions(in: name) where !evicted.contains(digest) {
            kept.formUnion(closures[digest])
        }
        for digest in store.manifestRevisions(in: name) where forced.contains(digest) || (evicted.contains(digest) && !kept.contains(digest)) {
            try store.deleteManifest(digest, in: name)
            report.removedManifests.append(digest)
        }
        for digest in store.layerLinks(in: name) where evicted.contains(digest) && !kept.contains(digest) {
            try store.unlinkLayer(digest, in: name)
            report.unlinkedLayers += 1
        }
        if store.manifestRevisions(in: name).isEmpty && (store.tags(in: name) ?? []).isEmpty {
            removeRepository(name)
            report.removedRepository = true
        }
    }

    /// As garbage collection removes a repository it left empty: its directory, parents that held nothing else,
    /// and the catalog's marker, so `_catalog` no longer lists it.
    private func removeRepository(_ name: RepositoryName) {
        store.removeRepository(name)
        var parent = FileSystem.parent(store.path(.repository(name)))
        while parent.count > store.path(.repositories).count, rmdir(parent) == 0 {
            parent = FileSystem.parent(parent)
        }
        try? store.touchCatalogMarker()
    }

    /// Removes the blobs among `candidates` that no manifest of any repository references, nor a Kraken
    /// namespace, under the collection lock (not waited for: a sweep running now will look at them itself).
    private func removeUnreferenced(_ candidates: Set<Digest>, report: inout Report) throws {
        let stored = candidates.filter { store.blobSize($0) != nil }
        guard !stored.isEmpty else { return }
        let lockPath = store.path(.collectionLock)
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw FileSystem.fail("open", lockPath) }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            report.blobsLeft = stored.count
            return
        }
        // As in `GarbageCollector.run`: whatever makes a blob referenced from here on shows it by the blob's mtime.
        let epoch = try RegistryStore.fileSystemNow(lock, path: lockPath)
        let collector = GarbageCollector(store: store, options: GarbageCollector.Options())
        var marked = Set<Digest>(store.namespaceBlobs())
        let repositories = store.repositoryDirectories().compactMap { RepositoryName($0) }
        for name in repositories {
            for digest in store.manifestRevisions(in: name) { collector.markManifest(digest, into: &marked) }
        }
        for digest in stored.sorted(by: { $0.description < $1.description }) where !marked.contains(digest) {
            let size = store.blobSize(digest) ?? 0
            let links = repositories.map { store.path(.layerLink($0, digest)) }.filter { FileSystem.exists($0) }
            if try store.removeUnreferencedBlob(digest, epoch: epoch, links: links, keep: { _ in false }) {
                report.removedBlobs.append((digest, size))
            } else {
                report.blobsLeft += 1
            }
        }
        store.removeRetired()
    }
}
