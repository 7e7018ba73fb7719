import Glibc

/// What a mirror's cache holds, read from the store (`berth cache list`): its repositories by cache name, their
/// tags and manifests with the bytes each keeps, when each was last pulled, and the blobs the cache bound
/// (`proxy.cache.maxsize`) would evict first, in the garbage collector's own order.
///
/// A manifest's size is its own bytes and those of every stored blob it references (an index: its children and
/// theirs), each counted once; what it references but the cache never fetched (the other platforms of an index)
/// is counted apart. Last pull is the later of the tag's validation with the upstream (its link's mtime) and the
/// manifest's last recorded use (its blob's mtime, which the mirror refreshes on a hit while a cache bound is set).
public struct MirrorCacheInventory {
    public struct Image {
        public let digest: Digest
        /// Stored bytes and blobs it keeps: the manifest itself included.
        public let bytes: Int64
        public let blobs: Int
        /// Referenced, not stored.
        public let missingBlobs: Int
        /// Seconds since the epoch; nil when its manifest is not stored.
        public let lastPull: Double?
    }

    public struct TaggedImage {
        public let tag: String
        public let image: Image
        /// When the upstream last confirmed the tag (or it was fetched).
        public let validated: Double?
    }

    public struct Repository {
        public let name: String
        public let tags: [TaggedImage]
        /// Manifests pulled by digest alone: no tag's image (an index's children included) holds them.
        public let untagged: [Image]
        /// Everything the repository keeps (its manifests and layer links), each blob once.
        public let bytes: Int64
        public let blobs: Int
        public let lastPull: Double?
    }

    public struct Blob {
        public let digest: Digest
        public let size: Int64
        public let lastUsed: Double
        /// A tag's image needs it: the bound takes such blobs only after every other one.
        public let neededByTag: Bool
        /// `repository:tag` or `repository@digest` of the cached images that reference it.
        public let usedBy: [String]
    }

    public let repositories: [Repository]
    /// Every stored blob, once (what the cache bound compares with its limit).
    public let storedBytes: Int64
    public let storedBlobs: Int
    /// The first blobs the bound would evict, in its order, at most `evictionPreview` of them.
    public let evictionOrder: [Blob]

    /// `repository` limits the repositories listed and the eviction preview to that one.
    public init(store: RegistryStore, repository: RepositoryName? = nil, evictionPreview: Int = 10) {
        let collector = GarbageCollector(store: store, options: GarbageCollector.Options())
        let closures = ManifestClosures(collector)
        let all = collector.allBlobs()
        var sizes: [Digest: Int64] = [:]
        var used: [Digest: Double] = [:]
        for (digest, size, modified) in all {
            sizes[digest] = size
            used[digest] = modified
        }
        storedBytes = all.reduce(0) { $0 + $1.1 }
        storedBlobs = all.count

        var listed: [Repository] = []
        var users: [Digest: [String]] = [:]
        let names = repository.map { [$0.value] } ?? store.repositories()
        for text in names {
            guard let name = RepositoryName(text), store.repositoryExists(name) else { continue }
            let entry = Self.repository(name, store: store, closures: closures, sizes: sizes, used: used)
            for image in entry.tags {
                for digest in closures[image.image.digest] { users[digest, default: []].append("\(text):\(image.tag)") }
            }
            for image in entry.untagged {
                for digest in closures[image.digest] { users[digest, default: []].append("\(text)@\(image.digest)") }
            }
            listed.append(entry)
        }
        repositories = listed

        let candidates = repository == nil ? all : all.filter { users[$0.0] != nil }
        let needed = collector.taggedBlobs()
        evictionOrder = EvictionOrder.sorted(candidates, needed: needed).prefix(max(0, evictionPreview)).map { digest, size, modified in
            Blob(digest: digest, size: size, lastUsed: modified, neededByTag: needed.contains(digest), usedBy: users[digest] ?? [])
        }
    }

    private static func repository(_ name: RepositoryName, store: RegistryStore, closures: ManifestClosures,
                                   sizes: [Digest: Int64], used: [Digest: Double]) -> Repository {
        func image(_ digest: Digest) -> Image {
            let closure = closures[digest]
            let stored = closure.compactMap { sizes[$0] }
            return Image(digest: digest, bytes: stored.reduce(0, +), blobs: stored.count,
                         missingBlobs: closure.count - stored.count, lastPull: used[digest])
        }
        var tagged: [TaggedImage] = []
        var inTaggedImages = Set<Digest>()
        for tag in (store.tags(in: name) ?? []).compactMap(Tag.init) {
            guard let digest = store.resolveTag(tag, in: name) else { continue }
            let validated = store.modificationTime(of: .tagCurrentLink(name, tag))
            let stored = image(digest)
            let entry = Image(digest: digest, bytes: stored.bytes, blobs: stored.blobs, missingBlobs: stored.missingBlobs,
                              lastPull: latest(stored.lastPull, validated))
            tagged.append(TaggedImage(tag: tag.value, image: entry, validated: validated))
            inTaggedImages.formUnion(closures[digest])
        }
        var kept = inTaggedImages
        var untagged: [Image] = []
        for digest in store.manifestRevisions(in: name) {
            kept.formUnion(closures[digest])
            if !inTaggedImages.contains(digest) { untagged.append(image(digest)) }
        }
        kept.formUnion(store.layerLinks(in: name))
        let stored = kept.compactMap { sizes[$0] }
        let lastPull = (tagged.map(\.image.lastPull) + untagged.map(\.lastPull)).reduce(nil, latest)
        return Repository(name: name.value, tags: tagged, untagged: untagged, bytes: stored.reduce(0, +),
                          blobs: stored.count, lastPull: lastPull)
    }

    private static func latest(_ first: Double?, _ second: Double?) -> Double? {
        guard let first else { return second }
        guard let second else { return first }
        return max(first, second)
    }
}

/// A manifest and every digest it references, through an index's children: what garbage collection keeps for
/// it (stored or not), read once per manifest.
final class ManifestClosures {
    private let collector: GarbageCollector
    private var known: [Digest: Set<Digest>] = [:]

    init(_ collector: GarbageCollector) {
        self.collector = collector
    }

    subscript(_ digest: Digest) -> Set<Digest> {
        if let closure = known[digest] { return closure }
        var marked = Set<Digest>()
        collector.markManifest(digest, into: &marked)
        known[digest] = marked
        return marked
    }
}

extension RegistryStore {
    /// The manifests linked in the repository, by digest.
    func manifestRevisions(in name: RepositoryName) -> [Digest] {
        FileSystem.list(path(.manifestRevisions(name))).compactMap { Digest("sha256:" + $0) }
    }

    /// The blobs linked in the repository (the mirror links each one it serves there).
    func layerLinks(in name: RepositoryName) -> [Digest] {
        FileSystem.list(path(.layers(name))).compactMap { Digest("sha256:" + $0) }
    }

    /// Seconds since the epoch; nil when the file is not there.
    func modificationTime(of location: StoragePath) -> Double? {
        var info = stat()
        guard stat(path(location), &info) == 0 else { return nil }
        return Self.seconds(info.st_mtim)
    }
}
