import Glibc

/// The registry:2 layout on a local filesystem: blobs, repository links, manifests, tags.
/// Every object becomes visible by one rename after it is complete. Methods are synchronous and
/// thread-safe (no shared mutable state); callers keep slow ones off the event loop.
public final class RegistryStore {
    /// `<rootdirectory>/docker/registry/v2`
    public let base: String
    public let fsync: Bool
    /// Upload bodies go to the disk with `O_DIRECT` where the file system allows it (see `DirectIOBuffer`).
    public let directWrites: Bool
    /// Raised after every change to links and blobs by any process on this machine (see `ChangeCounter`).
    public let changes: ChangeCounter

    public init(rootDirectory: String, fsync: Bool, directWrites: Bool = true) throws {
        var root = rootDirectory
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        base = root + "/" + StoragePath.root
        self.fsync = fsync
        self.directWrites = directWrites
        try FileSystem.makeDirectories(base)
        changes = ChangeCounter(path: base + "/" + StoragePath.changeCounter.relative)
        guard access(base, R_OK | W_OK | X_OK) == 0 else {
            throw StorageError.system(operation: "open for writing", path: base, errno: errno)
        }
    }

    /// Writes, reads back and removes a small file under the root: the storage health check. A full disk
    /// throws an error that `isOutOfSpace`: the store still serves what it holds.
    public func checkReadWrite() throws {
        let probe = path(.healthProbe(pid: getpid()))
        let token = Array(FileSystem.randomIdentifier().utf8)
        try FileSystem.writeAtomically(probe, token, sync: false)
        defer { unlink(probe) }
        guard try FileSystem.read(probe, limit: 64) == token else {
            throw StorageError.corrupt("\(probe): read back different bytes")
        }
    }

    public func path(_ location: StoragePath) -> String {
        path(relative: location.relative)
    }

    /// A path relative to the root as a finding names it (one `path(_:)` gave, less `base`).
    public func path(relative: String) -> String {
        base + "/" + relative
    }

    // MARK: Blobs

    /// The size of a stored blob, whatever repository links it.
    public func blobSize(_ digest: Digest) -> Int64? {
        FileSystem.size(path(.blobData(digest)))
    }

    public func isLayerLinked(_ digest: Digest, in repository: RepositoryName) -> Bool {
        linkTarget(path(.layerLink(repository, digest))) == digest
    }

    /// The link that makes a blob visible in a repository, or in a Kraken namespace.
    public func linkPath(_ digest: Digest, in owner: UploadOwner) -> StoragePath {
        switch owner {
        case .repository(let name): return .layerLink(name, digest)
        case .namespace(let namespace): return .namespaceLink(namespace, digest)
        }
    }

    public func isLinked(_ digest: Digest, in owner: UploadOwner) -> Bool {
        linkTarget(path(linkPath(digest, in: owner))) == digest
    }

    /// Opens a stored blob for reading: the descriptor and size, nil when it is not there.
    public func openBlob(_ digest: Digest) -> (descriptor: Int32, size: Int64)? {
        let fd = open(path(.blobData(digest)), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else { close(fd); return nil }
        return (fd, Int64(info.st_size))
    }

    public func readBlob(_ digest: Digest, limit: Int) throws -> [UInt8] {
        try FileSystem.read(path(.blobData(digest)), limit: limit)
    }

    public func linkLayer(_ digest: Digest, in repository: RepositoryName) throws {
        try writeLink(.layerLink(repository, digest), to: digest)
    }

    /// Moves a complete, verified (and, when the store flushes, flushed) file into the blob store by one rename.
    func installBlob(from file: String, as digest: Digest) throws {
        try FileSystem.makeDirectories(path(.blobDirectory(digest)))
        try FileSystem.rename(file, to: path(.blobData(digest)), sync: fsync)
        changes.advance()
    }

    /// Removes a blob's bytes (garbage collection): a worker that keeps it open learns of it by the counter.
    func removeBlob(_ digest: Digest) {
        FileSystem.removeTree(path(.blobDirectory(digest)))
        changes.advance()
    }

    /// Removes a repository's directory (garbage collection, once it holds nothing): cached links learn of it by
    /// the counter.
    /// Removes what belongs to the repository (`_manifests`, `_layers`, `_uploads`, `_referrers`), then its
    /// directory if nothing is left: repositories nested in it (`team/app` in `team`) live in the same tree,
    /// and no component of a repository name starts with `_`.
    func removeRepository(_ name: RepositoryName) {
        let directory = path(.repository(name))
        for entry in FileSystem.list(directory) where StoragePath.isRepositoryPart(entry) { FileSystem.removeTree(directory + "/" + entry) }
        rmdir(directory)
        changes.advance()
    }

    /// Moves a directory out of the way by one rename, so no request finds it any more. Removing it can wait
    /// on the disk (a 512 MiB file takes 70 ms to unlink on ext4 mounted with `discard`), so that is left to
    /// `removeRetired()`, which callers run after their answer.
    func retire(_ directory: String) {
        let target = path(.retiredEntry(name: FileSystem.randomIdentifier()))
        if rename(directory, target) == 0 { return }
        if errno == ENOENT && (try? FileSystem.makeDirectories(path(.retired))) != nil && rename(directory, target) == 0 { return }
        FileSystem.removeTree(directory)
    }

    /// Removes what `retire` moved aside, in this process or in one that died before it got to it.
    public func removeRetired() {
        for name in FileSystem.list(path(.retired)) { FileSystem.removeTree(path(.retiredEntry(name: name))) }
    }

    /// Removes temporary files that processes killed in the middle of a write left behind (garbage collection
    /// and each worker's start): those last written more than an hour ago (see `FileSystem.removeTemporaries`).
    @discardableResult
    public func removeStaleTemporaries() -> [String] {
        FileSystem.removeTemporaries(under: base, olderThan: 3600)
    }

    /// Stores bytes already in memory as a blob (manifests), unless that blob exists.
    public func storeBlob(_ bytes: [UInt8], digest: Digest) throws {
        let target = path(.blobData(digest))
        if FileSystem.size(target) == Int64(bytes.count) { return }
        try FileSystem.writeAtomically(target, bytes, sync: fsync)
        changes.advance()
    }

    // MARK: Manifests and tags

    public func isManifestLinked(_ digest: Digest, in repository: RepositoryName) -> Bool {
        linkTarget(path(.manifestRevisionLink(repository, digest))) == digest
    }

    public func linkManifest(_ digest: Digest, in repository: RepositoryName) throws {
        let isNew = !FileSystem.isDirectory(path(.manifests(repository)))
        try writeLink(.manifestRevisionLink(repository, digest), to: digest)
        if isNew { try touchCatalogMarker() }
    }

    /// Replaced whenever a repository appears or goes, so every process's catalog cache sees it with one stat.
    public func touchCatalogMarker() throws {
        try FileSystem.writeAtomically(path(.catalogMarker), [], sync: false)
    }

    public var catalogMarker: FileIdentity? {
        identity(of: .catalogMarker)
    }

    public func resolveTag(_ tag: Tag, in repository: RepositoryName) -> Digest? {
        linkTarget(path(.tagCurrentLink(repository, tag)))
    }

    /// Points `tag` at `digest`: the index entry first, then the current link, as registry:2 does.
    public func setTag(_ tag: Tag, to digest: Digest, in repository: RepositoryName) throws {
        try writeLink(.tagIndexLink(repository, tag, digest), to: digest)
        try writeLink(.tagCurrentLink(repository, tag), to: digest)
    }

    /// The repository's tags, sorted; nil when the repository does not exist.
    public func tags(in repository: RepositoryName) -> [String]? {
        guard FileSystem.isDirectory(path(.repository(repository))) else { return nil }
        return FileSystem.list(path(.tags(repository)))
            .filter { Tag($0).map { FileSystem.exists(path(.tagCurrentLink(repository, $0))) } ?? false }
            .sorted()
    }

    public func repositoryExists(_ repository: RepositoryName) -> Bool {
        FileSystem.isDirectory(path(.repository(repository)))
    }

    /// Every repository name, sorted: directories that hold `_manifests` (as registry:2's catalog).
    public func repositories() -> [String] {
        repositories(holding: [StoragePath.manifestsDirectoryName])
    }

    /// Every directory that holds anything of a repository, a manifest or not (garbage collection's view: a
    /// repository that only ever received uploads has uploads to purge too).
    func repositoryDirectories() -> [String] {
        repositories(holding: StoragePath.repositoryMarkers)
    }

    private func repositories(holding markers: Set<String>) -> [String] {
        var found: [String] = []
        func walk(_ directory: String, _ prefix: String) {
            var holds = false
            for (name, isDirectory) in FileSystem.entries(directory) where isDirectory && !name.hasPrefix(".") {
                if StoragePath.isRepositoryPart(name) {
                    holds = holds || markers.contains(name)
                    continue
                }
                walk(directory + "/" + name, prefix.isEmpty ? name : prefix + "/" + name)
            }
            if holds && !prefix.isEmpty { found.append(prefix) }
        }
        walk(path(.repositories), "")
        return found.sorted()
    }

    // MARK: Links

    func writeLink(_ location: StoragePath, to digest: Digest) throws {
        try FileSystem.writeAtomically(path(location), Array(digest.description.utf8), sync: fsync)
        changes.advance()
    }

    private func linkTarget(_ file: String) -> Digest? {
        guard let text = try? FileSystem.readText(file) else { return nil }
        return Digest(text.trimmingCharacters())
    }
}

extension String {
    func trimmingCharacters() -> Substring {
        var view = self[...]
        while let first = view.first, first == " " || first == "\n" || first == "\r" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\n" || last == "\r" { view = view.dropLast() }
        return view
    }
}

// MARK: Deletion

extension RegistryStore {
    public func unlinkLayer(_ digest: Digest, in repository: RepositoryName) throws {
        try removeLink(.layerLink(repository, digest))
    }

    public func deleteTag(_ tag: Tag, in repository: RepositoryName) throws {
        FileSystem.removeTree(path(.tag(repository, tag)))
        changes.advance()
    }

    /// Removes the revision and every tag that points at it (registry:2's manifest delete).
    public func deleteManifest(_ digest: Digest, in repository: RepositoryName) throws {
        for name in FileSystem.list(path(.tags(repository))) {
            guard let tag = Tag(name), resolveTag(tag, in: repository) == digest else { continue }
            try deleteTag(tag, in: repository)
        }
        try removeLink(.manifestRevisionLink(repository, digest))
    }

    /// Removes a link file and its now-empty `<algorithm>/<hex>` directory.
    private func removeLink(_ location: StoragePath) throws {
        let file = path(location)
        guard unlink(file) == 0 else { throw FileSystem.fail("unlink", file) }
        changes.advance()
        rmdir(FileSystem.parent(file))
    }
}

// MARK: Referrers

extension RegistryStore {
    public func linkReferrer(_ referrer: Digest, to subject: Digest, in repository: RepositoryName) throws {
        try writeLink(.referrerLink(repository, subject: subject, referrer: referrer), to: referrer)
    }

    public func unlinkReferrer(_ referrer: Digest, from subject: Digest, in repository: RepositoryName) {
        let file = path(.referrerLink(repository, subject: subject, referrer: referrer))
        unlink(file)
        rmdir(FileSystem.parent(file))
    }

    /// Manifests that name `subject` and still exist in the repository.
    public func referrers(of subject: Digest, in repository: RepositoryName) -> [Digest] {
        FileSystem.list(path(.referrers(repository, subject: subject))).flatMap { algorithm in
            FileSystem.list(path(.referrersByAlgorithm(repository, subject: subject, algorithm: algorithm)))
                .compactMap { Digest("\(algorithm):\($0)") }
        }
        .filter { isManifestLinked($0, in: repository) }
        .sorted { $0.description < $1.description }
    }
}

// MARK: Kraken namespaces

extension RegistryStore {
    public func linkToNamespace(_ digest: Digest, _ namespace: Namespace) throws {
        try writeLink(.namespaceLink(namespace, digest), to: digest)
    }

    /// Every blob linked by any namespace (garbage collection keeps them).
    /// Every Kraken namespace that has a directory (blobs linked, or uploads).
    func namespaces() -> [Namespace] {
        FileSystem.list(path(.namespaces)).compactMap { Namespace(directoryName: $0) }
    }

    public func namespaceBlobs() -> [Digest] {
        FileSystem.list(path(.namespaces)).flatMap { directoryName in
            FileSystem.list(path(.namespaceLinks(directoryName: directoryName))).compactMap { Digest("sha256:" + $0) }
        }
    }
}

// MARK: Cheap validation

/// Identifies one version of a file: links are replaced by rename, so a new version has a new inode.
public struct FileIdentity: Equatable {
    let inode: UInt64
    let device: UInt64
    let changedSeconds: Int
    let changedNanoseconds: Int
}

extension RegistryStore {
    /// One stat(2): enough to tell whether a cached tag or revision link is still the same file.
    public func identity(of location: StoragePath) -> FileIdentity? {
        identity(atPath: path(location))
    }

    public func identity(atPath file: String) -> FileIdentity? {
        var info = stat()
        guard stat(file, &info) == 0 else { return nil }
        return FileIdentity(inode: UInt64(info.st_ino), device: UInt64(info.st_dev),
                            changedSeconds: info.st_ctim.tv_sec, changedNanoseconds: info.st_ctim.tv_nsec)
    }
}
