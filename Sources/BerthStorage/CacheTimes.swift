import Glibc

extension RegistryStore {
    /// Seconds since the tag was written or last confirmed with an upstream (the mtime of its link,
    /// so every worker process and a restart agree); nil when the tag does not exist.
    public func secondsSinceTagValidated(_ tag: Tag, in repository: RepositoryName) -> Double? {
        var info = stat()
        guard stat(path(.tagCurrentLink(repository, tag)), &info) == 0 else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec - info.st_mtim.tv_sec) + Double(now.tv_nsec - info.st_mtim.tv_nsec) / 1e9
    }

    /// The upstream confirmed the tag: its time to live starts again.
    public func markTagValidated(_ tag: Tag, in repository: RepositoryName) {
        utimes(path(.tagCurrentLink(repository, tag)), nil)
    }
}

extension RegistryStore {
    /// Records that a blob was just served, for least-recently-used eviction (the mtime of its data file).
    public func markBlobUsed(_ digest: Digest) {
        utimes(path(.blobData(digest)), nil)
    }
}
