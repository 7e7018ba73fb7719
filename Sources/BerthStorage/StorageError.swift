import Glibc

/// A storage failure: what was attempted, on which path, and the errno when a system call failed.
public enum StorageError: Error, CustomStringConvertible {
    case notFound(String)
    case system(operation: String, path: String, errno: Int32)
    case digestMismatch(expected: Digest, computed: Digest)
    case corrupt(String)
    /// Another request (in this process or another) is writing to this upload.
    case busy(String)

    public var description: String {
        switch self {
        case .notFound(let path): return "\(path): not found"
        case .system(let operation, let path, let code): return "\(operation) \(path): \(String(cString: strerror(code)))"
        case .digestMismatch(let expected, let computed): return "content has digest \(computed), expected \(expected)"
        case .corrupt(let detail): return detail
        case .busy(let id): return "upload \(id) is in use by another request"
        }
    }

    /// What went wrong without the path, for answers to clients (who must not learn the server's layout).
    public var summary: String {
        switch self {
        case .notFound: return "not found"
        case .system(let operation, _, let code): return "\(operation): \(String(cString: strerror(code)))"
        case .digestMismatch: return description
        case .corrupt: return "stored data is damaged"
        case .busy: return description
        }
    }

    /// True when the process or the system is out of descriptors or memory for now: the client should hear
    /// 503 and try again, not 500.
    public var isOutOfResources: Bool {
        if case .system(_, _, let code) = self { return code == EMFILE || code == ENFILE || code == ENOMEM }
        return false
    }

    /// True when the disk is full or over quota: the client should hear 507, not 500.
    public var isOutOfSpace: Bool {
        if case .system(_, _, let code) = self { return code == ENOSPC || code == EDQUOT }
        return false
    }
}
