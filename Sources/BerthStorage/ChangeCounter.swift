import CBerthShims
import Glibc

/// A counter shared by every process that uses one storage root on this machine (a small file under the root,
/// mapped into each), raised after every change to a link and every removal of a blob or a repository. What a
/// cache learned from links stays true while the counter has not moved: one read of memory instead of a
/// stat(2) of the link per request. Writers elsewhere (registry:2 on the same directory, another machine on
/// shared storage) do not raise it: caches check the links themselves now and then as well.
public final class ChangeCounter: @unchecked Sendable {
    private static let size = 4096
    private let counter: UnsafeMutablePointer<UInt64>?

    init(path: String) {
        counter = Self.map(path)
    }

    deinit {
        if let counter { munmap(counter, Self.size) }
    }

    /// `nil` when the file could not be mapped: then nothing is known to be unchanged.
    public var value: UInt64? {
        counter.map { berth_atomic_load($0) }
    }

    /// Call after the change is visible on disk.
    public func advance() {
        if let counter { berth_atomic_increment(counter) }
    }

    private static func map(_ path: String) -> UnsafeMutablePointer<UInt64>? {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        // Two processes may both extend a new file: either way it holds zeros.
        if info.st_size < size && ftruncate(descriptor, off_t(size)) != 0 { return nil }
        // The page must be on the disk before it is mapped: touching a hole of the mapping once the disk is
        // full (a tmpfs root) is a SIGBUS, which killed the process on its next request. Without the space
        // now, nothing is known to be unchanged.
        guard posix_fallocate(descriptor, 0, off_t(size)) == 0 else { return nil }
        guard let mapping = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED else {
            return nil
        }
        return mapping.assumingMemoryBound(to: UInt64.self)
    }
}
