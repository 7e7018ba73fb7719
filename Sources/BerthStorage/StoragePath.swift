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
    case uploads(RepositoryName)
    /// Berth's referrers index (OCI 1.1); registry:2 ignores it, and a directory without it has no referrers.
    case referrers(RepositoryName, subject: Digest)
    case referrerLink(RepositoryName, subject: Digest, referrer: Digest)
    case upload(RepositoryName, id: String)
    case uploadData(RepositoryName, id: String)
    case uploadStartedAt(RepositoryName, id: String)
    case uploadHashStates(RepositoryName, id: String)
    case uploadHashState(RepositoryName, id: String, offset: Int64)

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
        case .uploads(let name):
            return "repositories/\(name.value)/_uploads"
        case .referrers(let name, let subject):
            return "repositories/\(name.value)/_referrers/\(subject.algorithm)/\(subject.encoded)"
        case .referrerLink(let name, let subject, let referrer):
            return StoragePath.referrers(name, subject: subject).relative + "/\(referrer.algorithm)/\(referrer.encoded)/link"
        case .upload(let name, let id):
            return "repositories/\(name.value)/_uploads/\(id)"
        case .uploadData(let name, let id):
            return StoragePath.upload(name, id: id).relative + "/data"
        case .uploadStartedAt(let name, let id):
            return StoragePath.upload(name, id: id).relative + "/startedat"
        case .uploadHashStates(let name, let id):
            return StoragePath.upload(name, id: id).relative + "/hashstates/sha256"
        case .uploadHashState(let name, let id, let offset):
            return StoragePath.uploadHashStates(name, id: id).relative + "/\(offset)"
        }
    }
}
