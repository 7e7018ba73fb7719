/// All knowledge of the on-disk layout (distribution `registry/storage/paths.go`): a typed path in, a path
/// relative to `<rootdirectory>/docker/registry/v2` out. The registry:2 part is the compatibility contract
/// (registry:2 serves a root Berth wrote, and the reverse; `StoragePathTests` pins each string); the parts
/// marked "Berth" are Berth's own, beside it, and registry:2 ignores them.
///
///     <rootdirectory>/docker/registry/v2
///     ├── blobs/<algorithm>/<first two hex>/<hex>/data               blobData (blobDirectory: its directory)
///     ├── repositories/<name>/                                       repository (<name> may hold slashes)
///     │   ├── _layers/<algorithm>/<hex>/link                         layerLink: the blob is in this repository
///     │   ├── _manifests/
///     │   │   ├── revisions/<algorithm>/<hex>/link                   manifestRevisionLink
///     │   │   └── tags/<tag>/
///     │   │       ├── current/link                                   tagCurrentLink: what the tag names now
///     │   │       └── index/<algorithm>/<hex>/link                   tagIndexLink: what it has named
///     │   ├── _uploads/<id>/                                         upload
///     │   │   ├── data                                               uploadData
///     │   │   ├── startedat                                          uploadStartedAt (RFC 3339)
///     │   │   └── hashstates/sha256/<offset>                         uploadHashState (a SHA256_CTX's bytes)
///     │   └── _referrers/<algorithm>/<subject hex>/<algorithm>/<hex>/link   Berth: referrerLink (OCI 1.1)
///     ├── kraken/namespaces/<escaped namespace>/                     Berth: namespace (see `Namespace`)
///     │   ├── <algorithm>/<hex>/link                                 namespaceLink: the blob is in the namespace
///     │   └── _uploads/<id>/...                                      as a repository's uploads
///     ├── berth-mirror/downloads/<key>.lock, <key>.partial           Berth: downloadLock, downloadData
///     ├── berth-locks/blobs/<algorithm>/<first two hex>              Berth: blobShardLock (see `BlobShardLock`)
///     ├── berth-retired/<id>                                         Berth: retiredEntry, removed after the answer
///     ├── berth-quarantine/<algorithm>-<hex>-<id>/data               Berth: quarantinedBlob (`berth fsck --repair`)
///     ├── .berth-gc.lock                                             Berth: collectionLock
///     ├── .berth-catalog                                             Berth: catalogMarker, replaced when a repository comes or goes
///     ├── .berth-changes                                             Berth: changeCounter (see `ChangeCounter`)
///     ├── .berth-health-<pid>                                        Berth: healthProbe, for a moment
///     └── (anywhere) .tmp-<random>                                   Berth: a file being written, renamed into place
///
/// A use of a mirrored blob is its data file's mtime and a tag's last confirmation its current link's mtime
/// (see `CacheTimes`): no files of their own.
public enum StoragePath {
    case blobData(Digest)
    case blobDirectory(Digest)
    case repositories
    case repository(RepositoryName)
    /// `_manifests`: a directory under `repositories/` that holds one is in the catalog (as registry:2's).
    case manifests(RepositoryName)
    case layerLink(RepositoryName, Digest)
    case manifestRevisionLink(RepositoryName, Digest)
    case tags(RepositoryName)
    case tag(RepositoryName, Tag)
    case tagCurrentLink(RepositoryName, Tag)
    case tagIndexLink(RepositoryName, Tag, Digest)
    case uploads(UploadOwner)
    /// Berth's referrers index (OCI 1.1); registry:2 ignores it, and a directory without it has no referrers.
    case referrers(RepositoryName, subject: Digest)
    /// One algorithm's referrers of `subject` (a directory to list).
    case referrersByAlgorithm(RepositoryName, subject: Digest, algorithm: String)
    case referrerLink(RepositoryName, subject: Digest, referrer: Digest)
    case upload(UploadOwner, id: String)
    case uploadData(UploadOwner, id: String)
    case uploadStartedAt(UploadOwner, id: String)
    case uploadHashStates(UploadOwner, id: String)
    case uploadHashState(UploadOwner, id: String, offset: Int64)
    /// A blob stored through Kraken's blob API, linked in its namespace (Berth's own, beside registry:2's);
    /// a namespace sees only the blobs linked in it, and holds its own uploads, as a repository does.
    case namespaceLink(Namespace, Digest)
    case namespace(Namespace)
    case namespaces
    /// A namespace's sha256 links by its directory's name as listed, for walks: a directory whose name does
    /// not decode to a namespace still keeps its blobs from garbage collection.
    case namespaceLinks(directoryName: String)
    case listedNamespaceLink(directoryName: String, Digest)
    /// Berth's mirror: downloads in progress, one lock and one partial file per key (see `DownloadClaim`).
    case downloads
    case downloadLock(key: String)
    case downloadData(key: String)
    /// Berth's: directories moved out of the way to be removed after the answer (see `RegistryStore.retire`).
    case retired
    case retiredEntry(name: String)
    /// Berth's: one lock file per shard of the blob store, between references to a blob and its removal (see
    /// `RegistryStore.referencing`).
    case blobShardLock(Digest)
    /// Berth's: blobs whose bytes no longer hash to their name, moved aside by `berth fsck --repair` (never served).
    case quarantine
    case quarantinedBlob(Digest, id: String)
    /// Berth's: held by whoever sweeps or repairs the store (online and offline GC, `berth fsck --repair`).
    case collectionLock
    /// Berth's: replaced whenever a repository appears or goes (see `RegistryStore.touchCatalogMarker`).
    case catalogMarker
    /// Berth's: raised after every change to links and blobs (see `ChangeCounter`).
    case changeCounter
    /// Berth's: the storage health check's file, written, read back and removed by one process.
    case healthProbe(pid: Int32)
    /// Directories to walk: every stored sha256 blob (then one shard of them), a repository's sha256 layer
    /// links and its sha256 manifest revisions.
    case blobs
    case blobShard(prefix: String)
    case layers(RepositoryName)
    case layerDirectory(RepositoryName)
    case manifestRevisions(RepositoryName)

    /// Where the tree begins under `storage.filesystem.rootdirectory` (registry:2's `storagePathRoot` and
    /// `storagePathVersion`).
    public static let root = "docker/registry/v2"

    /// The names under a repository's directory that are its own, not a nested repository's: they start
    /// with `_`, which no component of a repository name does.
    public static let manifestsDirectoryName = "_manifests"
    public static let layersDirectoryName = "_layers"
    public static let uploadsDirectoryName = "_uploads"
    public static let referrersDirectoryName = "_referrers"
    /// The directories that make a directory under `repositories/` a repository with something to collect
    /// (garbage collection's and fsck's view; the catalog's is `_manifests` alone).
    public static let repositoryMarkers: Set<String> = [manifestsDirectoryName, layersDirectoryName, uploadsDirectoryName]

    public static func isRepositoryPart(_ name: String) -> Bool { name.hasPrefix("_") }

    /// What `FileSystem.temporaryName` starts a file's name with while it is written.
    static let temporaryPrefix = ".tmp-"

    private static let lockSuffix = ".lock"

    /// The key of a download whose lock file, listed in `downloads`, is called `name`; nil for any other file.
    public static func downloadKey(lockFileName name: String) -> String? {
        name.hasSuffix(lockSuffix) ? String(name.dropLast(lockSuffix.count)) : nil
    }

    /// The path relative to `<root>/docker/registry/v2`. The links and the blob data that requests look at
    /// are written out in one interpolation each: one string built, not one per level of the tree.
    public var relative: String {
        switch self {
        case .blobDirectory(let digest):
            return "blobs/\(digest.algorithm)/\(digest.encoded.prefix(2))/\(digest.encoded)"
        case .blobData(let digest):
            return "blobs/\(digest.algorithm)/\(digest.encoded.prefix(2))/\(digest.encoded)/data"
        case .repositories:
            return "repositories"
        case .repository(let name):
            return "repositories/\(name.value)"
        case .manifests(let name):
            return StoragePath.repository(name).relative + "/" + Self.manifestsDirectoryName
        case .layerDirectory(let name):
            return StoragePath.repository(name).relative + "/" + Self.layersDirectoryName
        case .layers(let name):
            return StoragePath.layerDirectory(name).relative + "/sha256"
        case .layerLink(let name, let digest):
            return "repositories/\(name.value)/\(Self.layersDirectoryName)/\(digest.algorithm)/\(digest.encoded)/link"
        case .manifestRevisions(let name):
            return StoragePath.manifests(name).relative + "/revisions/sha256"
        case .manifestRevisionLink(let name, let digest):
            return "repositories/\(name.value)/\(Self.manifestsDirectoryName)/revisions/\(digest.algorithm)/\(digest.encoded)/link"
        case .tags(let name):
            return StoragePath.manifests(name).relative + "/tags"
        case .tag(let name, let tag):
            return StoragePath.tags(name).relative + "/\(tag.value)"
        case .tagCurrentLink(let name, let tag):
            return "repositories/\(name.value)/\(Self.manifestsDirectoryName)/tags/\(tag.value)/current/link"
        case .tagIndexLink(let name, let tag, let digest):
            return StoragePath.tag(name, tag).relative + "/index/\(digest.algorithm)/\(digest.encoded)/link"
        case .uploads(.repository(let name)):
            return StoragePath.repository(name).relative + "/" + Self.uploadsDirectoryName
        case .uploads(.namespace(let namespace)):
            return StoragePath.namespace(namespace).relative + "/" + Self.uploadsDirectoryName
        case .namespaces:
            return "kraken/namespaces"
        case .namespace(let namespace):
            return StoragePath.namespaces.relative + "/\(namespace.directoryName)"
        case .namespaceLink(let namespace, let digest):
            return "kraken/namespaces/\(namespace.directoryName)/\(digest.algorithm)/\(digest.encoded)/link"
        case .namespaceLinks(let directoryName):
            return StoragePath.namespaces.relative + "/\(directoryName)/sha256"
        case .listedNamespaceLink(let directoryName, let digest):
            return StoragePath.namespaces.relative + "/\(directoryName)/\(digest.algorithm)/\(digest.encoded)/link"
        case .downloads:
            return "berth-mirror/downloads"
        case .downloadLock(let key):
            return StoragePath.downloads.relative + "/\(key)" + Self.lockSuffix
        case .downloadData(let key):
            return StoragePath.downloads.relative + "/\(key).partial"
        case .retired:
            return "berth-retired"
        case .retiredEntry(let name):
            return StoragePath.retired.relative + "/\(name)"
        case .blobShardLock(let digest):
            return "berth-locks/blobs/\(digest.algorithm)/\(digest.encoded.prefix(2))"
        case .quarantine:
            return "berth-quarantine"
        case .quarantinedBlob(let digest, let id):
            return StoragePath.quarantine.relative + "/\(digest.algorithm)-\(digest.encoded)-\(id)"
        case .collectionLock:
            return ".berth-gc.lock"
        case .catalogMarker:
            return ".berth-catalog"
        case .changeCounter:
            return ".berth-changes"
        case .healthProbe(let pid):
            return ".berth-health-\(pid)"
        case .blobs:
            return "blobs/sha256"
        case .blobShard(let prefix):
            return StoragePath.blobs.relative + "/\(prefix)"
        case .referrers(let name, let subject):
            return StoragePath.repository(name).relative + "/" + Self.referrersDirectoryName + "/\(subject.algorithm)/\(subject.encoded)"
        case .referrersByAlgorithm(let name, let subject, let algorithm):
            return StoragePath.referrers(name, subject: subject).relative + "/\(algorithm)"
        case .referrerLink(let name, let subject, let referrer):
            return StoragePath.referrers(name, subject: subject).relative + "/\(referrer.algorithm)/\(referrer.encoded)/link"
        case .upload(let owner, let id):
            return StoragePath.uploads(owner).relative + "/\(id)"
        case .uploadData(let owner, let id):
            return StoragePath.upload(owner, id: id).relative + "/data"
        case .uploadStartedAt(let owner, let id):
            return StoragePath.upload(owner, id: id).relative + "/startedat"
        case .uploadHashStates(let owner, let id):
            return StoragePath.upload(owner, id: id).relative + "/hashstates/sha256"
        case .uploadHashState(let owner, let id, let offset):
            return StoragePath.uploadHashStates(owner, id: id).relative + "/\(offset)"
        }
    }
}
