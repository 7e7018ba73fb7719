import Glibc

/// Keeps garbage collection from removing a blob while a request makes it referenced, across every process on
/// the root (online GC runs in any worker, and `berth garbage-collect` beside them): one `flock` per shard of the
/// blob store (the first two hex digits, as its directories). Writers that make a blob referenced (a manifest PUT
/// that names it, an upload commit that links it) hold it shared across their check and their write; the sweep
/// holds it exclusively while it re-checks and removes one blob. Reads (manifest and blob GETs) take no lock.
///
/// The re-check is by time. A writer refreshes the blob's mtime under the lock after its write; the sweep spares
/// a blob whose mtime is not older than its epoch (the moment its marking began, on the file system's clock).
/// So either the write came before the epoch and marking saw it, or the mtime shows that it came after.
extension RegistryStore {
    /// Runs `write` (which makes `digests` referenced, and stores `stored`: a manifest's own blob) unless one
    /// of `digests` is not stored: then nothing is written and that digest is returned. No sweep removes any of
    /// them between the check and the write, nor `stored` between its write and the link that references it.
    public func referencing(_ digests: [Digest], storing stored: Digest? = nil, write: () throws -> Void) throws -> Digest? {
        let locks = try lockShards(of: digests + (stored.map { [$0] } ?? []), exclusive: false)
        defer { locks.forEach { close($0) } }
        // Refreshed before the write as well, so that a blob whose time cannot be set fails before anything is written.
        for digest in digests where try !refresh(digest) { return digest }
        try write()
        for digest in digests + (stored.map { [$0] } ?? []) { _ = try refresh(digest) }
        return nil
    }

    /// Runs `write`, which stores or links `digest` (an upload's commit), under the same lock, and marks the blob
    /// as just referenced after it: a commit acknowledged to the client is not undone by a sweep running meanwhile.
    public func storing(_ digest: Digest, write: () throws -> Void) throws {
        let locks = try lockShards(of: [digest], exclusive: false)
        defer { locks.forEach { close($0) } }
        try write()
        guard try refresh(digest) else { throw StorageError.notFound(path(.blobData(digest))) }
    }

    /// The sweep's removal of a blob that marking found unreferenced: under the shard's exclusive lock, spared
    /// when something referenced it since `epoch` or when `keep` (given its mtime) says so; else its data and
    /// the given layer links, which would point at nothing, go. True when it was removed.
    func removeUnreferencedBlob(_ digest: Digest, epoch: Double, links: [String], keep: (Double) -> Bool) throws -> Bool {
        let locks = try lockShards(of: [digest], exclusive: true)
        defer { locks.forEach { close($0) } }
        var info = stat()
        guard stat(path(.blobData(digest)), &info) == 0 else { return false }
        let modified = Self.seconds(info.st_mtim)
        guard modified < epoch, !keep(modified) else { return false }
        // Out of the way by one rename; the bytes are freed after the sweep (see `retire`).
        retire(path(.blobDirectory(digest)))
        for link in links where unlink(link) == 0 { rmdir(FileSystem.parent(link)) }
        changes.advance()
        return true
    }

    /// Now on the file system's clock (file times come from the kernel's coarse clock, which can lag `Date()`
    /// by a tick), read by refreshing the time of a file the caller holds open.
    static func fileSystemNow(_ descriptor: Int32, path: String) throws -> Double {
        var info = stat()
        guard futimens(descriptor, nil) == 0, fstat(descriptor, &info) == 0 else { throw FileSystem.fail("futimens", path) }
        return seconds(info.st_mtim)
    }

    static func seconds(_ time: timespec) -> Double {
        Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Sets the blob's mtime to now; false when it is not stored.
    private func refresh(_ digest: Digest) throws -> Bool {
        let data = path(.blobData(digest))
        if utimensat(AT_FDCWD, data, nil, 0) == 0 { return true }
        guard errno == ENOENT else { throw FileSystem.fail("utimensat", data) }
        return false
    }

    /// Locks in shard order, so that two writers never wait on each other in a cycle.
    private func lockShards(of digests: [Digest], exclusive: Bool) throws -> [Int32] {
        var shards: [String: StoragePath] = [:]
        for digest in digests { shards[StoragePath.blobShardLock(digest).relative] = .blobShardLock(digest) }
        var locks: [Int32] = []
        do {
            for (_, shard) in shards.sorted(by: { $0.key < $1.key }) {
                let file = path(shard)
                var fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                if fd < 0 && errno == ENOENT {
                    try FileSystem.makeDirectories(FileSystem.parent(file))
                    fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                }
                guard fd >= 0 else { throw FileSystem.fail("open", file) }
                locks.append(fd)
                while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
                    guard errno == EINTR else { throw FileSystem.fail("flock", file) }
                }
            }
        } catch {
            locks.forEach { close($0) }
            throw error
        }
        return locks
    }
}
