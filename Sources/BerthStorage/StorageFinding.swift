/// One thing `StorageCheck` found wrong under a storage root: what, where, and what `StorageRepair` does about it.
public struct StorageFinding {
    public enum Kind: String, CaseIterable, Sendable {
        /// A blob whose bytes do not hash to its name.
        case corruptBlob = "corrupt-blob"
        /// A linked manifest names a blob (layer, config, child manifest) whose bytes are not stored.
        case missingReference = "missing-reference"
        /// A manifest revision link whose blob is gone.
        case danglingManifest = "dangling-manifest"
        /// A tag whose manifest is not in its repository (or whose bytes are gone).
        case danglingTag = "dangling-tag"
        /// A link file that does not hold the digest its path names.
        case badLink = "bad-link"
        /// A layer or Kraken namespace link whose blob is gone (registry:2's GC leaves these too).
        case danglingLink = "dangling-link"
        /// A blob that no manifest and no namespace references, older than gc.delay.
        case unreferencedBlob = "unreferenced-blob"
        /// An upload started longer ago than uploads.maxage.
        case staleUpload = "stale-upload"
        /// A `.tmp-*` file or a retired directory older than any live writer can be.
        case staleTemporary = "stale-temporary"
        /// A mirror download's lock that nobody holds, and its partial file.
        case abandonedDownload = "abandoned-download"

        /// Damage is what a client can meet: a name that leads to wrong or missing bytes. The other kinds are
        /// orphans: space that nothing serves.
        public var isDamage: Bool {
            switch self {
            case .corruptBlob, .missingReference, .danglingManifest, .danglingTag, .badLink: return true
            case .danglingLink, .unreferencedBlob, .staleUpload, .staleTemporary, .abandonedDownload: return false
            }
        }
    }

    /// A link that names a blob, so that a blob moved away takes its links with it.
    enum BlobLink {
        case layer(RepositoryName)
        case manifest(RepositoryName)
        case namespace(relative: String)
    }

    enum Fix {
        case quarantine(Digest, links: [BlobLink])
        case removeUnreferencedBlob(Digest, layerLinks: [RepositoryName])
        case removeLayerLink(RepositoryName, Digest)
        case removeNamespaceLink(relative: String, Digest)
        case deleteManifest(RepositoryName, Digest)
        case deleteTag(RepositoryName, Tag)
        case removeFile(relative: String)
        case removeTree(relative: String)
        case removeUpload(UploadOwner, id: String)
        case removeDownload(key: String)
        /// No repair is safe; the text says what would put it right.
        case none(String)
    }

    public let kind: Kind
    /// Relative to `<rootdirectory>/docker/registry/v2`, as `StoragePath.relative` spells it.
    public let path: String
    public let detail: String
    let fix: Fix

    init(_ kind: Kind, _ path: String, _ detail: String, fix: Fix) {
        self.kind = kind
        self.path = path
        self.detail = detail
        self.fix = fix
    }

    public var isRepairable: Bool {
        if case .none = fix { return false }
        return true
    }

    /// What `--repair` does, or why it does nothing.
    public var repair: String {
        switch fix {
        case .quarantine(_, let links):
            return "move the blob to \(StoragePath.quarantine.relative)/ and remove its \(links.count) link\(links.count == 1 ? "" : "s")"
        case .removeUnreferencedBlob(_, let links):
            return "remove the blob and its \(links.count) layer link\(links.count == 1 ? "" : "s")"
        case .removeLayerLink, .removeNamespaceLink, .removeFile: return "remove the \(kind == .staleTemporary ? "file" : "link")"
        case .deleteManifest: return "remove the revision and the tags on it"
        case .deleteTag: return "remove the tag"
        case .removeTree: return "remove the directory"
        case .removeUpload: return "remove the upload"
        case .removeDownload: return "remove the lock and the partial file"
        case .none(let reason): return "none: \(reason)"
        }
    }
}
