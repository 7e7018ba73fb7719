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

