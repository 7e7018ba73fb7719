import BerthStorage
import Glibc

/// The store's totals for the overview: blobs and their bytes (one `stat` per blob), repositories, and uploads
/// in progress (entries of each repository's `_uploads`). A walk of the whole store: on the pool, and reused
/// for `StoreCensus.maxAgeMilliseconds` (the overview of a store of a million blobs must not walk it per view).
struct StoreCensus {
    static let maxAgeMilliseconds: UInt64 = 30_000

    var blobs = 0
    var blobBytes: Int64 = 0
    var repositories = 0
    var uploads = 0
    /// Unix seconds the walk ended.
    var takenAt = 0
    /// A mirror's cached images (`repository:tag`), the largest and the most recently pulled first, and the
    /// blobs the cache bound would evict next: `berth cache list`'s inventory.
    var largest: [CachedImage] = []
    var recentlyPulled: [CachedImage] = []
    var evictNext: [(digest: String, bytes: Int64)] = []

    struct CachedImage {
        let reference: String
        let bytes: Int64
        let lastPull: Double?
    }

    static let imagesShown = 5

    static func take(store: RegistryStore, repositories names: [String], mirror: Bool) -> StoreCensus {
        var census = StoreCensus()
        if mirror {
            // The inventory walks the blobs itself (and reads every cached manifest): one walk, not two.
            let inventory = MirrorCacheInventory(store: store, evictionPreview: imagesShown)
            census.blobs = inventory.storedBlobs
            census.blobBytes = inventory.storedBytes
            let images = inventory.repositories.flatMap { repository in
                repository.tags.map { CachedImage(reference: "\(repository.name):\($0.tag)", bytes: $0.image.bytes, lastPull: $0.image.lastPull) }
            }
            census.largest = Array(images.sorted { ($0.bytes, $1.reference) > ($1.bytes, $0.reference) }.prefix(imagesShown))
            census.recentlyPulled = Array(images.filter { $0.lastPull != nil }.sorted { ($0.lastPull ?? 0) > ($1.lastPull ?? 0) }.prefix(imagesShown))
            census.evictNext = inventory.evictionOrder.map { ($0.digest.description, $0.size) }
            census.countUploads(store: store, names: names)
            return census
        }
        let blobs = store.path(.blobs)
        for shard in Self.names(blobs) {
            for blob in Self.names(blobs + "/" + shard) {
                var info = stat()
                guard stat(blobs + "/" + shard + "/" + blob + "/data", &info) == 0 else { continue }
                census.blobs += 1
                census.blobBytes += Int64(info.st_size)
            }
        }
        census.countUploads(store: store, names: names)
        return census
    }

    private mutating func countUploads(store: RegistryStore, names: [String]) {
        repositories = names.count
        for name in names {
            guard let repository = RepositoryName(name) else { continue }
            uploads += Self.names(store.path(.uploads(.repository(repository)))).count
        }
        takenAt = time(nil)
    }

    /// The entries of a directory but `.` and `..` (none when it cannot be read).
    static func names(_ directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
