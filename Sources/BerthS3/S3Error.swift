import BerthUpstream

/// Why an S3 request failed: the few codes callers act on, any other by its code and status, or the
/// transport's failure. Built from the answer's `<Error><Code>`, never from anything that holds the secret.
public enum S3Error: Error, Equatable, CustomStringConvertible {
    case noSuchKey
    case noSuchBucket
    case accessDenied
    case signatureDoesNotMatch
    case other(code: String, status: Int)
    case transport(UpstreamError)
    /// A 2xx answer whose body is not what the operation returns.
    case malformedAnswer(String)

    /// The S3 error code (`NoSuchKey`...), or a word for a failure that has none.
    public var code: String {
        switch self {
        case .noSuchKey: return "NoSuchKey"
        case .noSuchBucket: return "NoSuchBucket"
        case .accessDenied: return "AccessDenied"
        case .signatureDoesNotMatch: return "SignatureDoesNotMatch"
        case .other(let code, _): return code
        case .transport: return "TransportError"
        case .malformedAnswer: return "MalformedAnswer"
        }
    }

    public var description: String {
        switch self {
        case .other(let code, let status): return "\(code) (HTTP \(status))"
        case .transport(let error): return "TransportError: \(error)"
        case .malformedAnswer(let reason): return "MalformedAnswer: \(reason)"
        default: return code
        }
    }

    /// From a non-2xx answer (or a 2xx one whose body is an `<Error>`, as CopyObject and
    /// CompleteMultipartUpload may send). A HEAD answer has no body: its status alone speaks.
    static func from(status: Int, body: [UInt8]) -> S3Error {
        let code = (try? S3XML.parse(body, sizeLimit: 1 << 20)).flatMap { $0.name == "Error" ? $0["Code"] : nil }
        switch code ?? "" {
        case "NoSuchKey": return .noSuchKey
        case "NoSuchBucket": return .noSuchBucket
        case "AccessDenied": return .accessDenied
        case "SignatureDoesNotMatch": return .signatureDoesNotMatch
        case "":
            switch status {
            case 404: return .noSuchKey
            case 403: return .accessDenied
            default: return .other(code: "HTTP\(status)", status: status)
            }
        case let other: return .other(code: other, status: status)
        }
    }
}
