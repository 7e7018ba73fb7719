import Foundation
import Glibc

/// Mark and sweep over registry:2's layout, with registry:2's marking rules (`registry garbage-collect`):
/// every manifest revision of every repository is kept (with `deleteUntagged`, only those tagged in that
/// repository and what its tagged indexes reference) together with the blobs it references; every other
/// blob is removed. Online runs also spare what a push in flight may still need: blobs written or linked
/// less than `delay` ago. Stale uploads and repositories left empty go too.
public struct GarbageCollector {
    public struct Options {
        /// registry:2's upload purging age (one week): the default of `uploads.maxage`, for GC and fsck alike.
        public static let defaultUploadMaxAgeSeconds: Double = 7 * 24 * 3600
        /// The default of `gc.delay` for online runs (and fsck's view of an orphan); an offline run, with
        /// nothing pushing, spares nothing by age.
        public static let defaultOnlineDelaySeconds: Double = 3600

        public var dryRun = false
        public var deleteUntagged = false
        /// Blobs written, linked or referenced more recently than this are kept (a push in flight).
        public var delaySeconds: Double = 0
        /// Uploads started longer ago than this are removed (registry:2's upload purging: one week).
        public var uploadMaxAgeSeconds = Options.defaultUploadMaxAgeSeconds
        /// A mirror's cache bound: past it, blobs are evicted least recently used first, those that no tag
        /// needs before those that one does (a mirror fetches an evicted blob again when it is asked for).
        public var maxBlobBytes: Int64?
        /// Whether to walk the whole root for temporary files that killed writers left (see
        /// `RegistryStore.removeStaleTemporaries`); a server's frequent sweeps do it once an hour.
        public var removeStaleTemporaries = true

        public init() {}
    }

    public struct Report {
        public var removedBlobs: [(digest: Digest, size: Int64)] = []
        public var removedManifests: [(repository: String, digest: Digest)] = []
        public var removedUploads: [String] = []
        public var removedRepositories: [String] = []
        public var evictedBlobs: [(digest: Digest, size: Int64)] = []
        public var markedBlobs = 0
        /// Another process held the collection lock: this turn looked at nothing.
        public var skipped = false
        public var reclaimedBytes: Int64 { removedBlobs.reduce(0) { $0 + $1.size } }
    }

    let store: RegistryStore
    let options: Options

    public init(store: RegistryStore, options: Options) {
        self.store = store
        self.options = options
    }

    /// Runs one collection. Only one runs at a time across processes (a lock file under the root).
    public func run(log: (String) -> Void = { _ in }) throws -> Report {
        let lockPath = store.path(.collectionLock)
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw FileSystem.fail("open", lockPath) }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else { return Report(skipped: true) }

        var report = Report()
        // From here on, whatever makes a blob referenced shows it by the blob's mtime (see `RegistryStore.referencing`).
        let epoch = try RegistryStore.fileSystemNow(lock, path: lockPath)
        let now = Date().timeIntervalSince1970
        var marked = Set<Digest>()
        var layerLinks: [Digest: [String]] = [:]
        for repository in store.repositoryDirectories() {
            guard let name = RepositoryName(repository) else { continue }
            try mark(name, into: &marked, layerLinks: &layerLinks, now: now, report: &report, log: log)
            purgeUploads(of: .repository(name), label: name.value, now: now, report: &report, log: log)
        }
        for namespace in store.namespaces() {
            purgeUploads(of: .namespace(namespace), label: "kraken/\(namespace)", now: now, report: &report, log: log)
        }
        for key in options.dryRun ? [] : store.removeAbandonedDownloads() { log("abandoned download removed: \(key)") }
        // Blobs stored through Kraken's API are referenced by their namespaces, not by manifests.
        marked.formUnion(store.namespaceBlobs())
        report.markedBlobs = marked.count
        let delay = options.delaySeconds
        for (digest, size, modified) in allBlobs() where !marked.contains(digest) && now - modified >= delay {
            let links = layerLinks[digest] ?? []
            // Looked at now, not at marking time: a blob linked in a repository recently may belong to a manifest
            // that has not arrived yet.
            let spare = { (modified: Double) -> Bool in
                let now = Date().timeIntervalSince1970
                return now - modified < delay || links.contains { now - linkAge($0) < delay }
            }
            if options.dryRun {
                guard modified < epoch, !spare(modified) else { continue }
            } else {
                guard try store.removeUnreferencedBlob(digest, epoch: epoch, links: links, keep: spare) else { continue }
            }
            log("blob eligible for deletion: \(digest) (\(size) bytes)")
            report.removedBlobs.append((digest, size))
        }
        if let limit = options.maxBlobBytes {
            let removed = Set(report.removedBlobs.map(\.digest))
            evict(down: limit, among: allBlobs().filter { !removed.contains($0.0) }, report: &report, log: log)
        }
        if !options.dryRun {
            for repository in store.repositoryDirectories() {
                guard let name = RepositoryName(repository), isEmpty(name), removeEmptyRepository(name) else { continue }
                report.removedRepositories.append(repository)
                log("repository removed: \(repository)")
            }
            if !report.removedRepositories.isEmpty { try? store.touchCatalogMarker() }
            for file in options.removeStaleTemporaries ? store.removeStaleTemporaries() : [] {
                log("stale temporary file removed: \(file)")
            }
            store.removeRetired()
        }
        return report
    }

    // MARK: Mark

    private func mark(_ name: RepositoryName, into marked: inout Set<Digest>, layerLinks: inout [Digest: [String]],
                      now: Double, report: inout Report, log: (String) -> Void) throws {
        let tagged = Set((store.tags(in: name) ?? []).compactMap { Tag($0).flatMap { store.resolveTag($0, in: name) } })
        // What this repository's kept manifests reference. Whether an untagged revision goes is decided by its own
        // repository alone, as registry:2 does: the same digest tagged elsewhere keeps the blob, not this link.
        var kept = Set<Digest>()
        var untagged: [Digest] = []
        for digest in linkedDigests(.manifestRevisions(name)) {
            if options.deleteUntagged && !tagged.contains(digest) {
                untagged.append(digest)
                continue
            }
            markManifest(digest, into: &kept)
        }
        // An untagged child of an index kept here is still in use (registry:2 2.8 removes it and breaks the index).
        for digest in untagged where !kept.contains(digest) {
            if now - linkAge(store.path(.manifestRevisionLink(name, digest))) < options.delaySeconds {
                markManifest(digest, into: &kept)
                continue
            }
            log("manifest eligible for deletion: \(name)@\(digest)")
            report.removedManifests.append((name.value, digest))
            if !options.dryRun { try? store.deleteManifest(digest, in: name) }
        }
        marked.formUnion(kept)
        // Spared for the delay when recent, removed with their blob otherwise.
        for digest in linkedDigests(.layers(name)) {
            layerLinks[digest, default: []].append(store.path(.layerLink(name, digest)))
        }
    }

    func markManifest(_ digest: Digest, into marked: inout Set<Digest>) {
        guard marked.insert(digest).inserted, let references = store.manifestReferences(digest) else { return }
        for reference in references.referenced where !marked.contains(reference) {
            if store.isStoredManifest(reference) {
                markManifest(reference, into: &marked)
            } else {
                marked.insert(reference)
            }
        }
    }

    // MARK: Cache bound

    /// Removes blobs until the rest fit in `limit`: first those no tag needs, then the others, each group
    /// least recently used first (a blob's mtime is refreshed when a mirror serves it).
    private func evict(down limit: Int64, among blobs: [(Digest, Int64, Double)], report: inout Report, log: (String) -> Void) {
        var total = blobs.reduce(0) { $0 + $1.1 }
        guard total > limit else { return }
        for (digest, size, _) in EvictionOrder.sorted(blobs, needed: taggedBlobs()) where total > limit {
            log("blob evicted from the cache: \(digest) (\(size) bytes)")
            if !options.dryRun { store.removeBlob(digest) }
            report.evictedBlobs.append((digest, size))
            total -= size
        }
    }

    /// Every blob a tag of some repository needs: its manifest and what that references.
    func taggedBlobs() -> Set<Digest> {
        var needed = Set<Digest>()
        for repository in store.repositories() {
            guard let name = RepositoryName(repository) else { continue }
            for tag in (store.tags(in: name) ?? []).compactMap(Tag.init) {
                if let digest = store.resolveTag(tag, in: name) { markManifest(digest, into: &needed) }
            }
        }
        return needed
    }

    // MARK: Sweep helpers

    func allBlobs() -> [(Digest, Int64, Double)] {
        var blobs: [(Digest, Int64, Double)] = []
        for prefix in FileSystem.list(store.path(.blobs)) {
            for hex in FileSystem.list(store.path(.blobShard(prefix: prefix))) {
                // A directory in the wrong shard is no blob of the store's (fsck skips it too).
                guard let digest = Digest("sha256:" + hex), hex.hasPrefix(prefix) else { continue }
                var info = stat()
                guard stat(store.path(.blobData(digest)), &info) == 0 else { continue }
                blobs.append((digest, Int64(info.st_size), Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9))
            }
        }
        return blobs
    }

    /// Uploads of a repository (with a manifest or not) or of Kraken's namespaces, started longer ago than the maximum age.
    private func purgeUploads(of owner: UploadOwner, label: String, now: Double, report: inout Report, log: (String) -> Void) {
        for id in FileSystem.list(store.path(.uploads(owner))) {
            let started = (try? FileSystem.readText(store.path(.uploadStartedAt(owner, id: id)))).flatMap(Self.parseRFC3339)
                ?? linkAge(store.path(.upload(owner, id: id)))
            guard now - started > options.uploadMaxAgeSeconds else { continue }
            log("upload purged: \(label)/\(id)")
            report.removedUploads.append("\(label)/\(id)")
            if !options.dryRun { FileSystem.removeTree(store.path(.upload(owner, id: id))) }
        }
    }

    private func isEmpty(_ name: RepositoryName) -> Bool {
        linkedDigests(.manifestRevisions(name)).isEmpty
            && (store.tags(in: name) ?? []).isEmpty
            && FileSystem.list(store.path(.layers(name))).isEmpty
            && FileSystem.list(store.path(.uploads(.repository(name)))).isEmpty
    }

    /// True when it was one of the catalog's (it had held a manifest).
    private func removeEmptyRepository(_ name: RepositoryName) -> Bool {
        let listed = FileSystem.isDirectory(store.path(.manifests(name)))
        if listed {
            store.removeRepository(name)
        } else {
            // Never more than empty directories: an upload started meanwhile makes them fail, and stays.
            let directories: [StoragePath] = [.layers(name), .layerDirectory(name), .uploads(.repository(name)), .repository(name)]
            for directory in directories { rmdir(store.path(directory)) }
        }
        // Parents that held nothing else (a/b/c leaves a/b and a behind).
        var parent = FileSystem.parent(store.path(.repository(name)))
        while parent.count > store.path(.repositories).count, rmdir(parent) == 0 {
            parent = FileSystem.parent(parent)
        }
        return listed
    }

    /// The sha256 digests named in a directory of `<hex>/link` entries.
    private func linkedDigests(_ directory: StoragePath) -> [Digest] {
        FileSystem.list(store.path(directory)).compactMap { Digest("sha256:" + $0) }
    }

    /// Modification time in seconds since the epoch, 0 when missing.
    private func linkAge(_ path: String) -> Double {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Double(info.st_mtim.tv_sec)
    }

    static func parseRFC3339(_ text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let trimmed = String(text.trimmingCharacters())
        if let date = formatter.date(from: trimmed) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: trimmed)?.timeIntervalSince1970
    }
}
