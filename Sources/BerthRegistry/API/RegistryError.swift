import BerthHTTP
import BerthStorage

/// An error the registry answers with: one entry of the error table, and a detail.
public struct RegistryError: Error {
    public let code: Code
    public let detail: String?
    /// What the log says of this failure and the body must not (an upstream's address, its TLS library's text).
    public var cause: String?

    public var message: String { code.descriptor.message ?? detail ?? "" }
    public var status: Int { code.descriptor.status }

    public init(_ code: Code, _ detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    /// What the body says: the spec's code, the message, and the status it is answered with.
    public struct Descriptor: Equatable {
        /// The `code` of the body: one of the distribution spec's.
        public let value: String
        /// nil: the detail is the message (a refusal of the HTTP layer, whose text says it all).
        public let message: String?
        public let status: Int
    }

    /// Every error the registry answers, declared once with its code, message and status (distribution
    /// `registry/api/errcode/register.go`, OCI dist-spec "Error Codes"). The spec's codes come first; then
    /// Berth's answers that carry one of them with another status or message: clients act on the code, the
    /// status says what went wrong over HTTP (a 409 for an upload in use, a 502 for an upstream's bad answer).
    public enum Code: CaseIterable {
        case blobUnknown
        case blobUploadInvalid
        case blobUploadUnknown
        case digestInvalid
        case manifestBlobUnknown
        case manifestInvalid
        case manifestUnknown
        case nameInvalid
        case nameUnknown
        case sizeInvalid
        case rangeInvalid
        case unauthorized
        case denied
        case unsupported
        case tooManyRequests
        case unavailable
        case unknown

        /// Another request writes to the upload now.
        case blobUploadInUse
        /// A manifest body past the configured limit.
        case manifestTooLarge
        /// A push to a pull-through mirror.
        case mirrorTakesNoPushes
        /// A Kraken namespace that cannot be stored.
        case namespaceInvalid
        /// `n` of a list request that is not a non-negative integer.
        case paginationInvalid
        /// No route for the method and path.
        case routeUnknown
        /// A write on a full disk (RFC 4918's 507); what is stored is still served. The spec has no code for it.
        case storageFull
        /// An upstream (a mirror's or a Kraken backend) that cannot be reached.
        case upstreamUnreachable
        /// An upstream's exchange that failed, an error status it answered, or a manifest other than the one asked for.
        case upstreamFailed
        /// An upstream that sent a blob's bytes wrong (too many, too few, another digest).
        case upstreamBlobInvalid
        /// Too many failed logins from the client's address (auth.htpasswd), or too many waiting to be checked.
        case loginThrottled
        /// The htpasswd file cannot be read or parsed: no login can be checked.
        case authenticationUnavailable

        /// Refusals of the HTTP layer (BerthHTTP knows no registry: it names the status and the text).
        case requestInvalid
        case requestTimeout
        case requestTooLarge
        case requestTargetTooLong
        case rangeNotSatisfiable
        case requestHeadersTooLarge

        public var descriptor: Descriptor {
            switch self {
            case .blobUnknown: return Descriptor(value: "BLOB_UNKNOWN", message: "blob unknown to registry", status: 404)
            case .blobUploadInvalid: return Descriptor(value: "BLOB_UPLOAD_INVALID", message: "blob upload invalid", status: 400)
            case .blobUploadUnknown: return Descriptor(value: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown to registry", status: 404)
            case .digestInvalid: return Descriptor(value: "DIGEST_INVALID", message: "provided digest did not match uploaded content", status: 400)
            case .manifestBlobUnknown:
                return Descriptor(value: "MANIFEST_BLOB_UNKNOWN", message: "manifest references a manifest or blob unknown to registry", status: 400)
            case .manifestInvalid: return Descriptor(value: "MANIFEST_INVALID", message: "manifest invalid", status: 400)
            case .manifestUnknown: return Descriptor(value: "MANIFEST_UNKNOWN", message: "manifest unknown to registry", status: 404)
            case .nameInvalid: return Descriptor(value: "NAME_INVALID", message: "invalid repository name", status: 400)
            case .nameUnknown: return Descriptor(value: "NAME_UNKNOWN", message: "repository name not known to registry", status: 404)
            case .sizeInvalid: return Descriptor(value: "SIZE_INVALID", message: "provided length did not match content length", status: 400)
            case .rangeInvalid: return Descriptor(value: "RANGE_INVALID", message: "invalid content range", status: 416)
            case .unauthorized: return Descriptor(value: "UNAUTHORIZED", message: "authentication required", status: 401)
            case .denied: return Descriptor(value: "DENIED", message: "requested access to the resource is denied", status: 403)
            case .unsupported: return Descriptor(value: "UNSUPPORTED", message: "the operation is unsupported", status: 405)
            case .tooManyRequests: return Descriptor(value: "TOOMANYREQUESTS", message: "too many requests", status: 429)
            case .unavailable: return Descriptor(value: "UNAVAILABLE", message: "service unavailable", status: 503)
            case .unknown: return Descriptor(value: "UNKNOWN", message: "unknown error", status: 500)

            case .blobUploadInUse: return Descriptor(value: "BLOB_UPLOAD_INVALID", message: "blob upload invalid", status: 409)
            case .manifestTooLarge: return Descriptor(value: "MANIFEST_INVALID", message: "manifest invalid", status: 413)
            case .mirrorTakesNoPushes:
                return Descriptor(value: "UNSUPPORTED", message: "this registry is a pull-through mirror and takes no pushes", status: 405)
            case .namespaceInvalid: return Descriptor(value: "NAME_INVALID", message: "invalid namespace", status: 400)
            case .paginationInvalid: return Descriptor(value: "UNSUPPORTED", message: "invalid pagination", status: 400)
            case .routeUnknown: return Descriptor(value: "UNSUPPORTED", message: "not found", status: 404)
            case .storageFull: return Descriptor(value: "UNAVAILABLE", message: "insufficient storage", status: 507)
            case .upstreamUnreachable: return Descriptor(value: "UNAVAILABLE", message: "upstream registry unreachable", status: 503)
            case .upstreamFailed: return Descriptor(value: "UNKNOWN", message: "upstream registry failed", status: 502)
            case .upstreamBlobInvalid: return Descriptor(value: "UNKNOWN", message: "unknown error", status: 502)
            case .loginThrottled: return Descriptor(value: "TOOMANYREQUESTS", message: "too many failed logins", status: 429)
            case .authenticationUnavailable: return Descriptor(value: "UNAVAILABLE", message: "authentication unavailable", status: 503)

            case .requestInvalid: return Descriptor(value: "UNSUPPORTED", message: nil, status: 400)
            case .requestTimeout: return Descriptor(value: "UNSUPPORTED", message: nil, status: 408)
            case .requestTooLarge: return Descriptor(value: "SIZE_INVALID", message: nil, status: 413)
            case .requestTargetTooLong: return Descriptor(value: "UNSUPPORTED", message: nil, status: 414)
            case .rangeNotSatisfiable: return Descriptor(value: "RANGE_INVALID", message: nil, status: 416)
            case .requestHeadersTooLarge: return Descriptor(value: "UNSUPPORTED", message: nil, status: 431)
            }
        }

        /// The spec's code, as the body and the log spell it.
        public var value: String { descriptor.value }

        /// The entry for a refusal of the HTTP layer, by the status it chose; nil for a status it does not
        /// answer today.
        static func refusal(status: Int) -> Code? {
            allCases.first { $0.descriptor.message == nil && $0.descriptor.status == status }
        }
    }

    /// A refusal of the HTTP layer (`HTTPHandler.protocolError`): its text is the message and the detail. A
    /// status without an entry is answered 400: give it one.
    static func refusal(status: Int, _ text: String) -> RegistryError {
        RegistryError(Code.refusal(status: status) ?? .requestInvalid, text)
    }

    static let storageFull = RegistryError(.storageFull, "the registry's storage is full; reads are still served")

    /// A failure inside the server, whose description may name a path under the data root, an errno, an
    /// upstream's address: that goes to the log; the client hears the code, a generic message and `detail`,
    /// which says only what was being done. A full disk is a 507.
    public static func concealing(_ cause: Error, _ detail: String, code: Code = .unknown) -> RegistryError {
        if let storage = cause as? StorageError, storage.isOutOfSpace {
            Log.error("storage full: \(detail): \(cause)")
            return storageFull
        }
        Log.error("\(detail): \(cause)")
        let transient = (cause as? StorageError)?.isOutOfResources == true
        return RegistryError(transient ? .unavailable : code, detail + " failed; the server's log has the cause")
    }

    /// The spec's error body: `{"errors":[{"code","message","detail"}]}`.
    public func response(headers: [(name: String, value: String)] = []) -> HTTPResponse {
        var body = "{\"errors\":[{\"code\":\"\(code.value)\",\"message\":\(JSONString.quoted(message))"
        body += ",\"detail\":" + (detail.map(JSONString.quoted) ?? "null") + "}]}\n"
        return HTTPResponse(status: status,
                            headers: [("Content-Type", "application/json; charset=utf-8")] + headers,
                            text: body)
    }
}
