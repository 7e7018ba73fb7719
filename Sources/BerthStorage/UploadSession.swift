import CBerthShims
import Glibc

/// One blob upload on disk in registry:2's layout: `_uploads/<id>/data`, `startedat` and
/// `hashstates/sha256/<offset>` (Go's SHA-256 state format), so the upload resumes after a restart,
/// in another worker process, or even in registry:2. Not thread-safe: one request uses it at a time,
/// appends may run on a pool thread.
public final class UploadSession {
    public let owner: UploadOwner
    public let id: String
    public private(set) var machine: UploadStateMachine
    private let store: RegistryStore
    private var descriptor: Int32
    private var direct: DirectWrites
    private var hasher: SHA256Hasher
    private var checkpointedOffset: Int64

    init(store: RegistryStore, owner: UploadOwner, id: String, descriptor: Int32, hasher: SHA256Hasher) {
        self.store = store
        self.owner = owner
        self.id = id
        self.descriptor = descriptor
        self.hasher = hasher
        direct = store.directWrites ? .unopened : .refused
        machine = UploadStateMachine(offset: hasher.count)
        checkpointedOffset = hasher.count
    }

    deinit {
        release()
    }

    /// Closes the data file, and so gives up the upload's lock. Call before answering the request:
    /// the client's next request may reach another worker process at once.
    public func release() {
        if case .open(let directDescriptor) = direct { close(directDescriptor) }
        direct = .unopened
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    public var offset: Int64 { hasher.count }

    /// Where the upload stands for the next request: its last checkpoint. After a failed write this is what
    /// the client was last told, not what this request had written.
    public var resumableOffset: Int64 { checkpointedOffset }

    /// Hashes and writes bytes at the current offset. Call only after `machine.chunk` said `.append`.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        let start = offset
        try write(bytes, at: start)
        var next = hasher
        next.update(bytes)
        accept(next)
    }

    /// The first half of an append that may run beside hashing on another thread: writes at `offset`
    /// (and starts write-back when the store flushes), without touching the hash. Whole blocks of a
    /// `DirectIOBuffer` written at a block boundary go to the disk directly; the rest through the page cache.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        guard !bytes.isEmpty else { return }
        let path = store.path(.uploadData(owner, id: id))
        do {
            let direct = try writeDirectly(bytes, at: offset, path: path)
            try FileSystem.writeAll(descriptor, UnsafeRawBufferPointer(rebasing: bytes[direct...]),
                                    at: offset + Int64(direct), path: path)
        } catch {
            // Give back what a failed write took (a full disk must not stay full) and stay at the last good offset.
            _ = ftruncate(descriptor, off_t(offset))
            throw error
        }
        if store.fsync { berth_start_writeback(descriptor, offset, Int64(bytes.count)) }
    }

    /// Writes the leading whole blocks of `bytes` with `O_DIRECT` when buffer and offset allow it, and
    /// answers how many bytes it wrote. A file system that refuses direct I/O gets buffered writes.
    private func writeDirectly(_ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws -> Int {
        let alignment = DirectIOBuffer.alignment
        let length = bytes.count / alignment * alignment
        guard length > 0, offset % Int64(alignment) == 0, Int(bitPattern: bytes.baseAddress) % alignment == 0,
              let directDescriptor = openDirect(path) else { return 0 }
        var done = 0
        while done < length {
            let count = pwrite(directDescriptor, bytes.baseAddress! + done, length - done, off_t(offset) + off_t(done))
            if count < 0 && errno == EINTR { continue }
            if count < 0 && errno == EINVAL {
                close(directDescriptor)
                direct = .refused
                return done
            }
            guard count > 0 else { throw FileSystem.fail("write", path) }
            done += count
            // A short write leaves the rest off a boundary: it goes through the page cache.
            if done % alignment != 0 { return done }
        }
        return done
    }

    /// The data file opened again with `O_DIRECT` on first use (the lock stays with `descriptor`).
    private func openDirect(_ path: String) -> Int32? {
        switch direct {
        case .open(let directDescriptor): return directDescriptor
        case .refused: return nil
        case .unopened:
            let opened = berth_open_direct(path)
            direct = opened >= 0 ? .open(opened) : .refused
            return opened >= 0 ? opened : nil
        }
    }

    private enum DirectWrites {
        case unopened
        case open(Int32)
        case refused
    }

    /// The state before the chunk in flight, which the other half (hashing it) starts from.
    public var hashSnapshot: SHA256Hasher { hasher }

    /// Both halves succeeded: `next` is the hash state after the chunk, and the upload now stands at its end.
    public func accept(_ next: SHA256Hasher) {
        machine.received(next.count - hasher.count)
        hasher = next
    }

    /// Persists the hash state for the current offset, after the data it covers (flushed first when
    /// configured), so a resumed upload never trusts bytes the disk may not hold.
    public func checkpoint() throws {
        let offset = hasher.count
        guard offset != checkpointedOffset else { return }
        if store.fsync && fdatasync(descriptor) != 0 {
            throw FileSystem.fail("fdatasync", store.path(.uploadData(owner, id: id)))
        }
        try FileSystem.writeAtomically(store.path(.uploadHashState(owner, id: id, offset: offset)), hasher.exported, sync: false)
        unlink(store.path(.uploadHashState(owner, id: id, offset: checkpointedOffset)))
        checkpointedOffset = offset
    }

    public func chunk(range: ClosedRange<Int64>?, declaredLength: Int64?) -> UploadStateMachine.Action {
        machine.chunk(range: range, declaredLength: declaredLength)
    }

    /// Verifies the digest of everything received, moves the data into the blob store and links it in the
    /// repository. On a mismatch the upload is removed (as registry:2 does) and `digestMismatch` thrown.
    /// What is left of the upload (all of it when the blob was already stored) is retired: call
    /// `RegistryStore.removeRetired()` once the client has its answer.
    @discardableResult
    public func commit(expected: Digest) throws -> Int64 {
        guard case .commit(_, let size) = machine.complete(expected: expected) else {
            throw StorageError.corrupt("upload \(id) is not receiving")
        }
        let computed = hasher.digest
        if machine.verified(computed, expected: expected) == .discard {
            cancel()
            throw StorageError.digestMismatch(expected: expected, computed: computed)
        }
        try store.storing(expected) {
            // Looked at under the lock: a sweep may have removed the stored copy a moment ago.
            if FileSystem.size(store.path(.blobData(expected))) != size {
                if store.fsync && fdatasync(descriptor) != 0 {
                    throw FileSystem.fail("fdatasync", store.path(.uploadData(owner, id: id)))
                }
                try store.installBlob(from: store.path(.uploadData(owner, id: id)), as: expected)
            }
            switch owner {
            case .repository(let name): try store.linkLayer(expected, in: name)
            case .namespace(let namespace): try store.linkToNamespace(expected, namespace)
            }
        }
        store.retire(store.path(.upload(owner, id: id)))
        return size
    }

    public func cancel() {
        _ = machine.cancel()
        FileSystem.removeTree(store.path(.upload(owner, id: id)))
    }
}

extension RegistryStore {
    public func createUpload(in repository: RepositoryName) throws -> UploadSession {
        try createUpload(for: .repository(repository))
    }

    public func openUpload(_ id: String, in repository: RepositoryName, exclusive: Bool = true) throws -> UploadSession {
        try openUpload(id, for: .repository(repository), exclusive: exclusive)
    }

    public func createUpload(for owner: UploadOwner) throws -> UploadSession {
        let id = FileSystem.randomIdentifier()
        do {
            try FileSystem.makeDirectories(path(.uploadHashStates(owner, id: id)))
            try FileSystem.writeAtomically(path(.uploadStartedAt(owner, id: id)), Array(Self.rfc3339Now().utf8), sync: false)
            return try openUpload(id, for: owner, creating: true)
        } catch {
            // On a full disk the directories fit and the file does not: leave no half-made upload behind.
            FileSystem.removeTree(path(.upload(owner, id: id)))
            throw error
        }
    }

    /// Reopens an upload where its last checkpoint left it; `notFound` when it does not exist.
    /// `exclusive` (to write, commit or cancel) locks the upload against other requests in any worker
    /// process (`busy` when one holds it) and drops bytes past the checkpoint; a status read does neither.
    public func openUpload(_ id: String, for owner: UploadOwner, exclusive: Bool = true) throws -> UploadSession {
        try openUpload(id, for: owner, exclusive: exclusive, creating: false)
    }

    /// Only `createUpload` makes the data file (registry:2 makes it at the POST too). An upload directory
    /// without one is a commit that a crash cut short after moving the data into the blob store: the bytes
    /// are no longer the upload's, so it is unknown, not resumable from 0 as an empty file would say.
    private func openUpload(_ id: String, for owner: UploadOwner, exclusive: Bool = true, creating: Bool) throws -> UploadSession {
        guard Self.isUploadIdentifier(id), FileSystem.isDirectory(path(.upload(owner, id: id))) else {
            throw StorageError.notFound(id)
        }
        let dataPath = path(.uploadData(owner, id: id))
        let descriptor = open(dataPath, O_RDWR | O_CLOEXEC | (creating ? O_CREAT : 0), 0o644)
        guard descriptor >= 0 else { throw errno == ENOENT ? StorageError.notFound(id) : FileSystem.fail("open", dataPath) }
        if exclusive && flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            close(descriptor)
            throw StorageError.busy(id)
        }
        let hasher = restoreHasher(owner, id: id, dataSize: FileSystem.size(dataPath) ?? 0)
        if exclusive && ftruncate(descriptor, off_t(hasher.count)) != 0 {
            close(descriptor)
            throw FileSystem.fail("truncate", dataPath)
        }
        return UploadSession(store: self, owner: owner, id: id, descriptor: descriptor, hasher: hasher)
    }

    /// The newest saved state that the data file covers; bytes past it are written again by the client.
    private func restoreHasher(_ owner: UploadOwner, id: String, dataSize: Int64) -> SHA256Hasher {
        let offsets = FileSystem.list(path(.uploadHashStates(owner, id: id))).compactMap { Int64($0) }.filter { $0 <= dataSize }.sorted(by: >)
        for offset in offsets {
            if let bytes = try? FileSystem.read(path(.uploadHashState(owner, id: id, offset: offset)), limit: 4096),
               let hasher = SHA256Hasher(exported: bytes), hasher.count == offset {
                return hasher
            }
        }
        return SHA256Hasher()
    }

    static func isUploadIdentifier(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || byte == 0x2d || byte == 0x5f
        }
    }

    static func rfc3339Now() -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(cString: buffer)
    }
}
