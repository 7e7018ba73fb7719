import BerthHTTP
import BerthStorage
import Glibc

/// Blob files kept open between requests, so a blob GET or HEAD costs one fstat(2) instead of open,
/// fstat and close. A blob's file never changes while it has its name, so an entry is good while its
/// file still has a link: garbage collection's unlink, or a commit's rename over a damaged file, leaves
/// the open file with none and the next request opens the blob again. Entries unused for a sweep
/// interval are closed, so the space of collected blobs is given back. Bounded; loop-confined.
final class OpenBlobCache {
    private struct Entry {
        let file: OpenFile
        let size: Int64
        var used: Bool
    }

    private let maxEntries: Int
    private var entries: [Digest: Entry] = [:]

    init(maxEntries: Int = 256) {
        self.maxEntries = maxEntries
    }

    func open(_ digest: Digest, in store: RegistryStore) -> (file: OpenFile, size: Int64)? {
        if let entry = entries[digest] {
            var info = stat()
            if fstat(entry.file.descriptor, &info) == 0 && info.st_nlink > 0 {
                if !entry.used { entries[digest]?.used = true }
                return (entry.file, entry.size)
            }
            entries[digest] = nil
        }
        guard let (descriptor, size) = store.openBlob(digest) else { return nil }
        let file = OpenFile(descriptor: descriptor)
        // Crude but bounded, like the manifest cache: start over when full.
        if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
        entries[digest] = Entry(file: file, size: size, used: true)
        return (file, size)
    }

    /// Closes the files not used since the last sweep (a response still sending one keeps it open).
    func sweep() {
        entries = entries.filter { $0.value.used }
        for digest in entries.keys { entries[digest]?.used = false }
    }
}
