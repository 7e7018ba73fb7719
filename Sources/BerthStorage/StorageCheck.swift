import Glibc

/// `berth fsck`'s check: walks a storage root in registry:2's layout and lists what is damaged (a blob whose
/// bytes do not hash to its name; a link, tag or manifest reference to bytes that are gone) and what is
/// orphaned (temporary files, uploads and downloads nobody will finish, blobs nothing references). It only
/// reads; `StorageRepair` acts on the findings. What a push in flight may still need is not an orphan: blobs
/// and their links younger than `blobDelaySeconds`, uploads younger than their maximum age, temporary files
/// younger than `temporaryMaxAgeSeconds`. Safe to run while Berth serves the root.
public struct StorageCheck {
    public struct Options {
        /// Hash every manifest and a sixteenth of the other blobs, chosen at random, instead of every blob.
        public var quick = false
        public var uploadMaxAgeSeconds = GarbageCollector.Options.defaultUploadMaxAgeSeconds
        /// gc.delay: an unreferenced blob written or linked more recently may belong to a push in flight.
        public var blobDelaySeconds = GarbageCollector.Options.defaultOnlineDelaySeconds
        /// Berth's `.tmp-*` files hold a link, a hash state or a manifest (at most a few MiB) for the time of
        /// one write and rename, and a retired directory lives until the answer is sent: an hour is far
        /// longer than any live writer keeps one.
        public var temporaryMaxAgeSeconds: Double = 3600
        /// The fine clock, not time(2): that one is the kernel's coarse clock, and a file written a moment ago
        /// can carry an mtime a second ahead of it (seen as a negative age in a fresh-clone CI run).
        public var now: Double = {
            var clock = timespec()
            clock_gettime(CLOCK_REALTIME, &clock)
            return Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9
        }()

        public init() {}
    }

    public struct Report {
        public var findings: [StorageFinding] = []
        public var repositories = 0
        public var manifests = 0
        public var blobs = 0
        public var blobsHashed = 0
        public var bytesHashed: Int64 = 0
    }

    let store: RegistryStore
    let options: Options

    public init(store: RegistryStore, options: Options) {
        self.store = store
        self.options = options
    }

    public func run() -> Report {
        var pass = Pass(store: store, options: options)
        for name in Self.repositories(in: store) {
            pass.report.repositories += 1
            pass.checkRevisions(name)
            pass.checkTags(name)
            pass.checkLayers(name)
            pass.checkUploads(.repository(name))
        }
        for namespace in store.namespaces() { pass.checkUploads(.namespace(namespace)) }
        pass.checkNamespaces()
        pass.checkManifests()
        pass.checkBlobs()
        pass.checkTemporaries(store.base)
        pass.checkRetired()
        pass.checkDownloads()
        return pass.report
    }

    /// Every directory under `repositories/` that holds links or uploads. `RegistryStore.repositories()` (the
    /// catalog) lists only those with manifests; a repository whose pushes never got to a manifest has links too.
    static func repositories(in store: RegistryStore) -> [RepositoryName] {
        var found: [RepositoryName] = []
        func walk(_ directory: String, _ prefix: String) {
            let entries = FileSystem.entries(directory).filter(\.isDirectory).map(\.name)
            if !prefix.isEmpty, entries.contains(where: StoragePath.repositoryMarkers.contains),
               let name = RepositoryName(prefix) {
                found.append(name)
            }
            for name in entries.sorted() where !StoragePath.isRepositoryPart(name) && !name.hasPrefix(".") {
                walk(directory + "/" + name, prefix.isEmpty ? name : prefix + "/" + name)
            }
        }
        walk(store.path(.repositories), "")
        return found
    }

    /// The digest of a file's bytes and their count, read in 1 MiB pieces; nil when it cannot be read.
    static func hash(_ file: String) -> (digest: Digest, size: Int64)? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        var hasher = SHA256Hasher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return (hasher.digest, hasher.count)
    }

    /// The digest a link file holds; nil when it is unreadable or holds something else.
    static func linkTarget(_ file: String) -> Digest? {
        (try? FileSystem.readText(file)).flatMap { Digest($0.trimmingCharacters()) }
    }

    /// A file's modification time (as garbage collection reads it), or with `renamed` the later of that and its
    /// status-change time, which a rename sets; 0 when missing.
    static func changed(_ file: String, renamed: Bool = false) -> Double {
        var info = stat()
        guard lstat(file, &info) == 0 else { return 0 }
        return Double(renamed ? max(info.st_mtim.tv_sec, info.st_ctim.tv_sec) : info.st_mtim.tv_sec)
    }
}

/// One walk's state: what the links name, which manifests to read, which blobs they reach.
private struct Pass {
    let store: RegistryStore
    let options: StorageCheck.Options
    var report = StorageCheck.Report()
    var links: [Digest: [StorageFinding.BlobLink]] = [:]
    var layerLinks: [Digest: [RepositoryName]] = [:]
    var newestLink: [Digest: Double] = [:]
    var revisions: [(RepositoryName, Digest)] = []
    var reachable = Set<Digest>()
    var verified: [Digest: Bool] = [:]
    var absent: [Digest: [Digest]] = [:]
    /// A linked manifest could not be read or does not match its digest: what it references is unknown, so no
    /// blob is called unreferenced (a repair would remove it).
    var marksIncomplete = false

    init(store: RegistryStore, options: StorageCheck.Options) {
        self.store = store
        self.options = options
    }

    func relative(_ file: String) -> String {
        file.hasPrefix(store.base + "/") ? String(file.dropFirst(store.base.count + 1)) : file
    }

    func hasBlob(_ digest: Digest) -> Bool {
        FileSystem.size(store.path(.blobData(digest))) != nil
    }

    mutating func add(_ kind: StorageFinding.Kind, _ file: String, _ detail: String, fix: StorageFinding.Fix) {
        report.findings.append(StorageFinding(kind, relative(file), detail, fix: fix))
    }

    /// The digests named by `<directory>/<hex>/link` files; a link that names another digest is reported.
    mutating func linkedDigests(_ directory: String, link: (Digest) -> String) -> [(Digest, String)] {
        var found: [(Digest, String)] = []
        for hex in FileSystem.list(directory).sorted() {
            guard let digest = Digest("sha256:" + hex) else { continue }
            let file = link(digest)
            guard FileSystem.exists(file) else { continue }
            guard let target = StorageCheck.linkTarget(file), target == digest else {
                add(.badLink, file, "does not hold \(digest)", fix: .removeFile(relative: relative(file)))
                continue
            }
            found.append((digest, file))
        }
        return found
    }

    mutating func checkRevisions(_ name: RepositoryName) {
        let store = store
        for (digest, file) in linkedDigests(store.path(.manifestRevisions(name)), link: { store.path(.manifestRevisionLink(name, $0)) }) {
            links[digest, default: []].append(.manifest(name))
            guard hasBlob(digest) else {
                add(.danglingManifest, file, "manifest \(name)@\(digest): its blob is not stored", fix: .deleteManifest(name, digest))
                continue
            }
            revisions.append((name, digest))
            reachable.insert(digest)
        }
    }

    mutating func checkTags(_ name: RepositoryName) {
        for text in FileSystem.list(store.path(.tags(name))).sorted() {
            guard let tag = Tag(text) else { continue }
            let file = store.path(.tagCurrentLink(name, tag))
            guard FileSystem.exists(file) else { continue }
            guard let digest = StorageCheck.linkTarget(file) else {
                add(.badLink, file, "tag \(name):\(tag) does not hold a digest", fix: .deleteTag(name, tag))
                continue
            }
            if !store.isManifestLinked(digest, in: name) || !hasBlob(digest) {
                add(.danglingTag, file, "tag \(name):\(tag) points at \(digest), which is not a manifest of \(name)",
                    fix: .deleteTag(name, tag))
            }
        }
    }

    mutating func checkLayers(_ name: RepositoryName) {
        let store = store
        for (digest, file) in linkedDigests(store.path(.layers(name)), link: { store.path(.layerLink(name, $0)) }) {
            guard hasBlob(digest) else {
                add(.danglingLink, file, "layer link \(name)@\(digest): its blob is not stored", fix: .removeLayerLink(name, digest))
                continue
            }
            links[digest, default: []].append(.layer(name))
            layerLinks[digest, default: []].append(name)
            newestLink[digest] = max(newestLink[digest] ?? 0, StorageCheck.changed(file))
        }
    }

    mutating func checkUploads(_ owner: UploadOwner) {
        for id in FileSystem.list(store.path(.uploads(owner))).sorted() {
            let upload = store.path(.upload(owner, id: id))
            let started = (try? FileSystem.readText(store.path(.uploadStartedAt(owner, id: id)))).flatMap(GarbageCollector.parseRFC3339)
                ?? StorageCheck.changed(upload)
            let age = options.now - started
            guard age > options.uploadMaxAgeSeconds else { continue }
            add(.staleUpload, upload, "started \(Int(age)) s ago, more than uploads.maxage (\(Int(options.uploadMaxAgeSeconds)) s)",
                fix: .removeUpload(owner, id: id))
        }
    }

    mutating func checkNamespaces() {
        let store = store
        for directoryName in FileSystem.list(store.path(.namespaces)).sorted() {
            let directory = store.path(.namespaceLinks(directoryName: directoryName))
            for (digest, file) in linkedDigests(directory, link: { store.path(.listedNamespaceLink(directoryName: directoryName, $0)) }) {
                guard hasBlob(digest) else {
                    add(.danglingLink, file, "namespace link \(digest): its blob is not stored",
                        fix: .removeNamespaceLink(relative: relative(file), digest))
                    continue
                }
                links[digest, default: []].append(.namespace(relative: relative(file)))
                reachable.insert(digest)
            }
        }
    }

    /// Reads each linked manifest once, checks its bytes and that every blob it names is stored, and marks
    /// what it reaches (an index's children and theirs) as referenced.
    mutating func checkManifests() {
        for (name, digest) in revisions {
            report.manifests += 1
            for reference in mark(digest) {
                add(.missingReference, store.path(.manifestRevisionLink(name, digest)),
                    "manifest \(name)@\(digest) references \(reference), which is not stored",
                    fix: .none("push the image again (its bytes are gone), or delete the manifest"))
            }
        }
    }

    /// Marks what the manifest `digest` references (once per digest); returns the references that are not stored.
    private mutating func mark(_ digest: Digest) -> [Digest] {
        if let known = absent[digest] { return known }
        absent[digest] = []
        guard let bytes = try? store.readBlob(digest, limit: ManifestReferences.storedLimit) else {
            marksIncomplete = true
            return []
        }
        report.blobsHashed += 1
        report.bytesHashed += Int64(bytes.count)
        verified[digest] = Digest.sha256(of: bytes) == digest
        guard verified[digest] == true else {
            marksIncomplete = true
            return []
        }
        var missing: [Digest] = []
        for reference in (try? ManifestReferences(bytes))?.referenced ?? [] {
            guard hasBlob(reference) else {
                missing.append(reference)
                continue
            }
            reachable.insert(reference)
            if absent[reference] == nil, store.isStoredManifest(reference) { _ = mark(reference) }
        }
        absent[digest] = missing
        return missing
    }

    mutating func checkBlobs() {
        for prefix in FileSystem.list(store.path(.blobs)).sorted() {
            for hex in FileSystem.list(store.path(.blobShard(prefix: prefix))).sorted() {
                guard let digest = Digest("sha256:" + hex), hex.hasPrefix(prefix) else { continue }
                checkBlob(digest)
            }
        }
    }

    private mutating func checkBlob(_ digest: Digest) {
        let data = store.path(.blobData(digest))
        guard let size = FileSystem.size(data) else { return }
        report.blobs += 1
        var intact = verified[digest]
        var detail = "\(size) bytes that do not hash to \(digest)"
        if intact == nil && (!options.quick || UInt8.random(in: 0..<16) == 0) {
            guard let computed = StorageCheck.hash(data) else { return }
            report.blobsHashed += 1
            report.bytesHashed += computed.size
            intact = computed.digest == digest
            detail = "\(computed.size) bytes that hash to \(computed.digest)"
        }
        if intact == false {
            add(.corruptBlob, data, detail, fix: .quarantine(digest, links: links[digest] ?? []))
            return
        }
        guard !reachable.contains(digest), !marksIncomplete else { return }
        let age = options.now - max(StorageCheck.changed(data), newestLink[digest] ?? 0)
        guard age >= options.blobDelaySeconds else { return }
        let linked = layerLinks[digest] ?? []
        add(.unreferencedBlob, data, "\(size) bytes, no manifest references it\(linked.isEmpty ? "" : " (linked in \(linked.map(\.value).joined(separator: ", ")))")",
            fix: .removeUnreferencedBlob(digest, layerLinks: linked))
    }

    /// `.tmp-*` files anywhere under the root (quarantined blobs aside) older than a live writer can be.
    mutating func checkTemporaries(_ directory: String) {
        for (name, isDirectory) in FileSystem.entries(directory) {
            let file = directory + "/" + name
            if isDirectory {
                if file != store.path(.quarantine) && file != store.path(.retired) { checkTemporaries(file) }
                continue
            }
            guard name.hasPrefix(StoragePath.temporaryPrefix) else { continue }
            let age = options.now - StorageCheck.changed(file)
            guard age > options.temporaryMaxAgeSeconds else { continue }
            add(.staleTemporary, file, "a temporary file last written \(Int(age)) s ago", fix: .removeFile(relative: relative(file)))
        }
    }

    /// What a process that died left in `berth-retired/` (a live one removes its own after the answer).
    mutating func checkRetired() {
        for name in FileSystem.list(store.path(.retired)).sorted() {
            let directory = store.path(.retiredEntry(name: name))
            let age = options.now - StorageCheck.changed(directory, renamed: true)
            guard age > options.temporaryMaxAgeSeconds else { continue }
            add(.staleTemporary, directory, "a committed upload retired \(Int(age)) s ago and not removed",
                fix: .removeTree(relative: relative(directory)))
        }
    }

    mutating func checkDownloads() {
        for key in FileSystem.list(store.path(.downloads)).sorted().compactMap(StoragePath.downloadKey) {
            guard store.observeDownload(key) == .idle else { continue }
            add(.abandonedDownload, store.path(.downloadLock(key: key)), "a mirror download nobody holds",
                fix: .removeDownload(key: key))
        }
    }
}
