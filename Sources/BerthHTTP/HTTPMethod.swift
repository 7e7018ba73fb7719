import CHTTPParser

/// The request methods a registry uses, by http_parser's numbering; others are `.other`.
public enum HTTPMethod: Equatable {
    case get, head, post, put, patch, delete, options, other(String)

    init(parserMethod: UInt32) {
        switch parserMethod {
        case HTTP_GET.rawValue: self = .get
        case HTTP_HEAD.rawValue: self = .head
        case HTTP_POST.rawValue: self = .post
        case HTTP_PUT.rawValue: self = .put
        case HTTP_PATCH.rawValue: self = .patch
        case HTTP_DELETE.rawValue: self = .delete
        case HTTP_OPTIONS.rawValue: self = .options
        default: self = .other(String(cString: http_method_str(http_method(parserMethod))))
        }
    }

    public var name: String {
        switch self {
        case .get: return "GET"
        case .head: return "HEAD"
        case .post: return "POST"
        case .put: return "PUT"
        case .patch: return "PATCH"
        case .delete: return "DELETE"
        case .options: return "OPTIONS"
        case .other(let name): return name
        }
    }
}
