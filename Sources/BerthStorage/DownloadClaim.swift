import CBerthShims
import Glibc

/// The on-disk side of one download from an upstream, shared by every worker process: an exclusive lock
/// makes one process the downloader, the size it announces and the partial file it writes let the others
/// follow the download as it grows, and the partial file becomes the blob by one rename once verified.
/// Not thread-safe: one owner, writes may run on a pool thread.
public final class DownloadClaim {
    public let key: String
    private let store: RegistryStore
    private var lockDescriptor: Int32
    public private(set) var dataDescriptor: Int32

    /// Becomes the downloader of `key`, or returns nil when another process (or another claim in this
    /// one) holds it. Whatever a failed earlier download left behind is replaced.
    public static func claim(_ key: String, in store: RegistryStore) throws -> DownloadClaim? {
        try FileSystem.makeDirectories(store.path(.downloads))
        let lockPath = store.path(.downloadLock(key: key))
        while true {
            let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard lock >= 0 else { throw FileSystem.fail("open", lockPath) }
            if flock(lock, LOCK_EX | LOCK_NB) != 0 {
                close(lock)
                return nil
            }
            // The previous holder unlinks the lock file before letting go: a lock on an unlinked file is no lock.
            guard sameFile(lock, lockPath) else {
                close(lock)
                continue
            }
            _ = ftruncate(lock, 0)
            let dataPath = store.path(.downloadData(key: key))
            unlink(dataPath)
            let data = open(dataPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard data >= 0 else {
                let error = FileSystem.fail("create", dataPath)
                unlink(lockPath)
                close(lock)
                throw error
            }
            return DownloadClaim(key: key, store: store, lock: lock, data: data)
        }
    }

    private init(key: String, store: RegistryStore, lock: Int32, data: Int32) {
        self.key = key
        self.store = store
        lockDescriptor = lock
        dataDescriptor = data
    }

    deinit {
        abandon()
    }

    public var dataPath: String { store.path(.downloadData(key: key)) }

    /// Tells followers in other processes how large the download will be (written into the lock file).
    public func announce(size: Int64) {
        let text = Array(String(size).utf8)
        _ = text.withUnsafeBytes { pwrite(lockDescriptor, $0.baseAddress, $0.count, 0) }
    }

    /// Writes downloaded bytes at `offset` (on a pool thread: it may block on the disk).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        try FileSystem.writeAll(dataDescriptor, bytes, at: offset, path: dataPath)
        if store.fsync { berth_start_writeback(dataDescriptor, offset, Int64(bytes.count)) }
    }

    /// Moves the verified download into the blob store (flushed first when the store flushes), then lets
    /// go of the claim. The caller has checked the digest of every byte.
    public func commitBlob(_ digest: Digest) throws {
        if store.fsync && fdatasync(dataDescriptor) != 0 { throw FileSystem.fail("fdatasync", dataPath) }
        try store.installBlob(from: dataPath, as: digest)
        release()
    }

    /// Gives the claim up and removes the partial file: followers see the lock free and no blob, a failure.
    public func abandon() {
        guard lockDescriptor >= 0 else { return }
        unlink(dataPath)
        release()
    }

    private func release() {
        guard lockDescriptor >= 0 else { return }
        unlink(store.path(.downloadLock(key: key)))
        close(dataDescriptor)
        close(lockDescriptor)
        dataDescriptor = -1
        lockDescriptor = -1
    }

    private static func sameFile(_ descriptor: Int32, _ path: String) -> Bool {
        var open = stat()
        var named = stat()
        return fstat(descriptor, &open) == 0 && stat(path, &named) == 0 && open.st_ino == named.st_ino && open.st_dev == named.st_dev
    }
}

extension RegistryStore {
    /// What a process that does not hold the claim sees of a download.
    public enum DownloadObservation: Equatable {
        /// Nobody holds the claim: the download finished, failed or never started.
        case idle
        /// Another process downloads; the size once announced.
        case running(size: Int64?)
    }

    public func observeDownload(_ key: String) -> DownloadObservation {
        let lockPath = path(.downloadLock(key: key))
        let lock = open(lockPath, O_RDONLY | O_CLOEXEC)
        guard lock >= 0 else { return .idle }
        defer { close(lock) }
        if flock(lock, LOCK_SH | LOCK_NB) == 0 { return .idle }
        var buffer = [UInt8](repeating: 0, count: 24)
        let count = buffer.withUnsafeMutableBytes { pread(lock, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return .running(size: nil) }
        return .running(size: Int64(String(decoding: buffer[..<count], as: UTF8.self)))
    }

    /// Removes what downloads of killed processes left behind (a lock nobody holds and its partial file);
    /// returns the keys removed. A claim racing with this sees its lock file replaced and claims again.
    @discardableResult
    public func removeAbandonedDownloads() -> [String] {
        var removed: [String] = []
        for key in FileSystem.list(path(.downloads)).compactMap(StoragePath.downloadKey) {
            guard observeDownload(key) == .idle else { continue }
            unlink(path(.downloadData(key: key)))
            unlink(path(.downloadLock(key: key)))
            removed.append(key)
        }
        return removed
    }

    /// Opens the partial file of a download in progress, to follow it; nil once it is gone (committed or failed).
    public func openDownloadData(_ key: String) -> Int32? {
        let fd = open(path(.downloadData(key: key)), O_RDONLY | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }

    /// The size of an open file (a partial download grows).
    public static func currentSize(_ descriptor: Int32) -> Int64 {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? Int64(info.st_size) : 0
    }
}
