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

    static func take(store: RegistryStore, repositories names: [String]) -> StoreCensus {
        var census = StoreCensus()
        let blobs = store.path(.blobs)
        for shard in Self.names(blobs) {
            for blob in Self.names(blobs + "/" + shard) {
                var info = stat()
                guard stat(blobs + "/" + shard + "/" + blob + "/data", &info) == 0 else { continue }
                census.blobs += 1
                census.blobBytes += Int64(info.st_size)
            }
        }
        census.repositories = names.count
        for name in names {
            guard let repository = RepositoryName(name) else { continue }
            census.uploads += Self.names(store.path(.uploads(.repository(repository)))).count
        }
        census.takenAt = time(nil)
        return census
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
