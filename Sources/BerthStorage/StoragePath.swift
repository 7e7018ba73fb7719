/// All knowledge of registry:2's on-disk layout (distribution `registry/storage/paths.go`): a typed path in, a path out.
public enum StoragePath {
    case blobData(Digest)
    case blobDirectory(Digest)
    case repositories
    case repository(RepositoryName)
    case layerLink(RepositoryName, Digest)
    case manifestRevisionLink(RepositoryName, Digest)
    case tags(RepositoryName)
    case tagCurrentLink(RepositoryName, Tag)
    case tagIndexLink(RepositoryName, Tag, Digest)
    case uploads(UploadOwner)
    /// Berth's referrers index (OCI 1.1); registry:2 ignores it, and a directory without it has no referrers.
    case referrers(RepositoryName, subject: Digest)
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
    /// Berth's mirror: downloads in progress, one lock and one partial file per key (see `DownloadClaim`).
    case downloads
    case downloadLock(key: String)
    case downloadData(key: String)
    /// Berth's: directories moved out of the way to be removed after the answer (see `RegistryStore.retire`).
    case retired
    /// Berth's: one lock file per shard of the blob store, between references to a blob and its removal (see
    /// `RegistryStore.referencing`).
    case blobShardLock(Digest)
    /// Berth's: blobs whose bytes no longer hash to their name, moved aside by `berth fsck --repair` (never served).
    case quarantine
    case quarantinedBlob(Digest, id: String)
    /// Berth's: held by whoever sweeps or repairs the store (online and offline GC, `berth fsck --repair`).
    case collectionLock
    /// Directories to walk: every stored blob, a repository's layer links and its manifest revisions.
    case blobs
    case layers(RepositoryName)
    case manifestRevisions(RepositoryName)

    /// The path relative to `<root>/docker/registry/v2`.
    public var relative: String {
        switch self {
        case .blobDirectory(let digest):
            return "blobs/\(digest.algorithm)/\(digest.encoded.prefix(2))/\(digest.encoded)"
        case .blobData(let digest):
            return StoragePath.blobDirectory(digest).relative + "/data"
        case .repositories:
            return "repositories"
        case .repository(let name):
            return "repositories/\(name.value)"
        case .layerLink(let name, let digest):
            return "repositories/\(name.value)/_layers/\(digest.algorithm)/\(digest.encoded)/link"
        case .manifestRevisionLink(let name, let digest):
            return "repositories/\(name.value)/_manifests/revisions/\(digest.algorithm)/\(digest.encoded)/link"
        case .tags(let name):
            return "repositories/\(name.value)/_manifests/tags"
        case .tagCurrentLink(let name, let tag):
            return "repositories/\(name.value)/_manifests/tags/\(tag.value)/current/link"
        case .tagIndexLink(let name, let tag, let digest):
            return "repositories/\(name.value)/_manifests/tags/\(tag.value)/index/\(digest.algorithm)/\(digest.encoded)/link"
        case .uploads(.repository(let name)):
            return "repositories/\(name.value)/_uploads"
        case .uploads(.namespace(let namespace)):
            return StoragePath.namespace(namespace).relative + "/_uploads"
        case .namespaces:
            return "kraken/namespaces"
        case .namespace(let namespace):
            return "kraken/namespaces/\(namespace.directoryName)"
        case .namespaceLink(let namespace, let digest):
            return StoragePath.namespace(namespace).relative + "/\(digest.algorithm)/\(digest.encoded)/link"
        case .downloads:
            return "berth-mirror/downloads"
        case .downloadLock(let key):
            return "berth-mirror/downloads/\(key).lock"
        case .downloadData(let key):
            return "berth-mirror/downloads/\(key).partial"
        case .retired:
            return "berth-retired"
        case .blobShardLock(let digest):
            return "berth-locks/blobs/\(digest.algorithm)/\(digest.encoded.prefix(2))"
        case .quarantine:
            return "berth-quarantine"
        case .quarantinedBlob(let digest, let id):
            return "berth-quarantine/\(digest.algorithm)-\(digest.encoded)-\(id)"
        case .collectionLock:
            return ".berth-gc.lock"
        case .blobs:
            return "blobs/sha256"
        case .layers(let name):
            return "repositories/\(name.value)/_layers/sha256"
        case .manifestRevisions(let name):
            return "repositories/\(name.value)/_manifests/revisions/sha256"
        case .referrers(let name, let subject):
            return "repositories/\(name.value)/_referrers/\(subject.algorithm)/\(subject.encoded)"
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

/// Who an upload belongs to: a registry repository, or a Kraken namespace (whose blobs are linked there).
public enum UploadOwner: Hashable, CustomStringConvertible {
    case repository(RepositoryName)
    case namespace(Namespace)

    public var description: String {
        switch self {
        case .repository(let name): return name.value
        case .namespace(let namespace): return namespace.value
        }
    }
}

/// A Kraken namespace: any non-empty text (slashes included) whose escaped directory name fits in one path
/// component, without control characters or U+FFFD (what bytes that are not UTF-8 decode to: two such
/// namespaces would share one directory).
public struct Namespace: Hashable, CustomStringConvertible {
    public let value: String

    /// NAME_MAX of Linux file systems: a longer directory name fails with ENAMETOOLONG, after the blob it
    /// would link is already stored.
    static let maxDirectoryNameBytes = 255

    public init?(_ text: String) {
        var length = 0
        for scalar in text.unicodeScalars {
            guard scalar.value >= 0x20, scalar.value != 0x7f, scalar != "\u{FFFD}" else { return nil }
            UTF8.encode(scalar) { byte in length += Self.isKeptAsIs(byte) ? 1 : 3 }
            guard length <= Self.maxDirectoryNameBytes else { return nil }
        }
        guard length > 0 else { return nil }
        value = text
    }

    /// The namespace whose `directoryName` this is (a directory listing of `kraken/namespaces`).
    init?(directoryName: String) {
        var bytes: [UInt8] = []
        var rest = Substring(directoryName).utf8[...]
        while let byte = rest.popFirst() {
            guard byte == 0x25 else { bytes.append(byte); continue }
            guard rest.count >= 2, let decoded = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(decoded)
            rest = rest.dropFirst(2)
        }
        guard let namespace = Namespace(String(decoding: bytes, as: UTF8.self)), namespace.directoryName == directoryName else { return nil }
        self = namespace
    }

    public var description: String { value }

    /// Every byte outside `[A-Za-z0-9_-]` as `%XX`: one path component, never `.` or `..`.
    var directoryName: String {
        var out = ""
        for byte in value.utf8 {
            if Self.isKeptAsIs(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded()
            }
        }
        return out
    }

    private static func isKeptAsIs(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a, 0x5f, 0x2d: return true
        default: return false
        }
    }
}

private extension String {
    func leftPadded() -> String { count == 1 ? "0" + self : self }
}
