import BerthHTTP
import BerthStorage

/// An error the registry answers with: one of the distribution spec's codes, its status, and a detail.
public struct RegistryError: Error {
    public let code: Code
    public let message: String
    public let detail: String?
    /// The status answered: the code's, unless this error overrides it.
    public var status: Int { statusOverride ?? code.status }

    /// All error codes, declared once (distribution `registry/api/errcode/register.go`, OCI dist-spec "Error Codes").
    public enum Code: String {
        case blobUnknown = "BLOB_UNKNOWN"
        case blobUploadInvalid = "BLOB_UPLOAD_INVALID"
        case blobUploadUnknown = "BLOB_UPLOAD_UNKNOWN"
        case digestInvalid = "DIGEST_INVALID"
        case manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
        case manifestInvalid = "MANIFEST_INVALID"
        case manifestUnknown = "MANIFEST_UNKNOWN"
        case nameInvalid = "NAME_INVALID"
        case nameUnknown = "NAME_UNKNOWN"
        case sizeInvalid = "SIZE_INVALID"
        case rangeInvalid = "RANGE_INVALID"
        case unauthorized = "UNAUTHORIZED"
        case denied = "DENIED"
        case unsupported = "UNSUPPORTED"
        case tooManyRequests = "TOOMANYREQUESTS"
        case unavailable = "UNAVAILABLE"
        case unknown = "UNKNOWN"

        var status: Int {
            switch self {
            case .blobUnknown, .blobUploadUnknown, .manifestUnknown, .nameUnknown: return 404
            case .blobUploadInvalid, .digestInvalid, .manifestBlobUnknown, .manifestInvalid, .nameInvalid, .sizeInvalid: return 400
            case .rangeInvalid: return 416
            case .unauthorized: return 401
            case .denied: return 403
            case .unsupported: return 405
            case .tooManyRequests: return 429
            case .unavailable: return 503
            case .unknown: return 500
            }
        }

        var defaultMessage: String {
            switch self {
            case .blobUnknown: return "blob unknown to registry"
            case .blobUploadInvalid: return "blob upload invalid"
            case .blobUploadUnknown: return "blob upload unknown to registry"
            case .digestInvalid: return "provided digest did not match uploaded content"
            case .manifestBlobUnknown: return "manifest references a manifest or blob unknown to registry"
            case .manifestInvalid: return "manifest invalid"
            case .manifestUnknown: return "manifest unknown to registry"
            case .nameInvalid: return "invalid repository name"
            case .nameUnknown: return "repository name not known to registry"
            case .sizeInvalid: return "provided length did not match content length"
            case .rangeInvalid: return "invalid content range"
            case .unauthorized: return "authentication required"
            case .denied: return "requested access to the resource is denied"
            case .unsupported: return "the operation is unsupported"
            case .tooManyRequests: return "too many requests"
            case .unavailable: return "service unavailable"
            case .unknown: return "unknown error"
            }
        }
    }

    /// An answer with a status other than the code's usual one (413 for an oversized manifest, 404 for no route).
    public let statusOverride: Int?
    /// What the log says of this failure and the body must not (an upstream's address, its TLS library's text).
    public var cause: String?

    public init(_ code: Code, _ detail: String? = nil, message: String? = nil, status: Int? = nil) {
        self.code = code
        self.message = message ?? code.defaultMessage
        self.detail = detail
        statusOverride = status
    }

    /// A write on a full disk (RFC 4918's 507); what is stored is still served. The spec has no code for it.
    static let storageFull = RegistryError(.unavailable, "the registry's storage is full; reads are still served",
                                           message: "insufficient storage", status: 507)

    /// A failure inside the server, whose description may name a path under the data root, an errno, an
    /// upstream's address: that goes to the log; the client hears the code, a generic message and `detail`,
    /// which says only what was being done. A full disk is a 507.
    public static func concealing(_ cause: Error, _ detail: String, code: Code = .unknown, status: Int? = nil) -> RegistryError {
        if let storage = cause as? StorageError, storage.isOutOfSpace {
            Log.error("storage full: \(detail): \(cause)")
            return storageFull
        }
        Log.error("\(detail): \(cause)")
        return RegistryError(code, detail + " failed; the server's log has the cause", status: status)
    }

    /// The spec's error body: `{"errors":[{"code","message","detail"}]}`.
    public func response(headers: [(name: String, value: String)] = []) -> HTTPResponse {
        var body = "{\"errors\":[{\"code\":\"\(code.rawValue)\",\"message\":\(JSONString.quoted(message))"
        body += ",\"detail\":" + (detail.map(JSONString.quoted) ?? "null") + "}]}\n"
        return HTTPResponse(status: status,
                            headers: [("Content-Type", "application/json; charset=utf-8")] + headers,
                            text: body)
    }
}
