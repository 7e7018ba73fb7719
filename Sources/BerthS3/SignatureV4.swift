/// AWS Signature Version 4 for requests signed in the Authorization header: the canonical request, the
/// string to sign, the signing key and the header itself. Pure: the time is an argument, nothing is sent.
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
public struct SignatureV4 {
    public let credentials: S3Credentials
    public let region: String
    public let service: String

    /// What S3 accepts in `x-amz-content-sha256` for a body it is not told the hash of.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of nothing: the payload hash of a request without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// One request as it is signed. `path` is the request target's path exactly as sent (already encoded
    /// with `S3URIEncoding`); `query` is unencoded; `headers` are the ones to sign (Host among them).
    public struct Request {
        public var method: String
        public var path: String
        public var query: [(name: String, value: String)]
        public var headers: [(name: String, value: String)]
        /// Lowercase hex SHA-256 of the body, or `unsignedPayload`.
        public var payloadHash: String

        public init(method: String, path: String, query: [(name: String, value: String)] = [],
                    headers: [(name: String, value: String)], payloadHash: String = SignatureV4.emptyPayloadHash) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// `host;x-amz-date`: the lowercase names of the signed headers, sorted, `;`-separated.
    public static func signedHeaders(_ request: Request) -> String {
        canonicalHeaders(request).map(\.name).joined(separator: ";")
    }

    /// Names lowercased, values trimmed with inner runs of spaces collapsed, sorted by name; the values of a
    /// name given more than once joined with `,` in the order given.
    static func canonicalHeaders(_ request: Request) -> [(name: String, value: String)] {
        var merged: [(name: String, value: String)] = []
        for (name, value) in request.headers {
            let lower = name.lowercased()
            let clean = collapsedSpaces(value)
            if let index = merged.firstIndex(where: { $0.name == lower }) {
                merged[index].value += "," + clean
            } else {
                merged.append((lower, clean))
            }
        }
        return merged.sorted { $0.name < $1.name }
    }

    public static func canonicalRequest(_ request: Request) -> String {
        let headers = canonicalHeaders(request)
        var text = request.method + "\n" + (request.path.isEmpty ? "/" : request.path) + "\n"
        text += S3URIEncoding.canonicalQuery(request.query) + "\n"
        for header in headers { text += header.name + ":" + header.value + "\n" }
        text += "\n" + headers.map(\.name).joined(separator: ";") + "\n" + request.payloadHash
        return text
    }

    public func scope(_ date: AmzDate) -> String {
        "\(date.day)/\(region)/\(service)/aws4_request"
    }

    public func stringToSign(canonicalRequest: String, date: AmzDate) -> String {
        "AWS4-HMAC-SHA256\n\(date.timestamp)\n\(scope(date))\n"
            + SigningCrypto.hex(SigningCrypto.sha256(canonicalRequest.utf8))
    }

    /// HMAC chain over the day, region, service and `aws4_request`, keyed first by `AWS4` + the secret.
    public func signingKey(_ date: AmzDate) -> [UInt8] {
        var key = SigningCrypto.hmacSHA256(key: Array(("AWS4" + credentials.secretKey).utf8), Array(date.day.utf8))
        for part in [region, service, "aws4_request"] {
            key = SigningCrypto.hmacSHA256(key: key, Array(part.utf8))
        }
        return key
    }

    public func signature(_ request: Request, date: AmzDate) -> String {
        let toSign = stringToSign(canonicalRequest: Self.canonicalRequest(request), date: date)
        return SigningCrypto.hex(SigningCrypto.hmacSHA256(key: signingKey(date), Array(toSign.utf8)))
    }

    /// The Authorization header's value.
    public func authorization(_ request: Request, date: AmzDate) -> String {
        "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope(date)), "
            + "SignedHeaders=\(Self.signedHeaders(request)), Signature=\(signature(request, date: date))"
    }

    private static func collapsedSpaces(_ value: String) -> String {
        var out: [UInt8] = []
        var pendingSpace = false
        for byte in value.utf8 {
            if byte == 0x20 || byte == 0x09 {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// An access key and its secret. The secret is in no description, so that no log line or error carries it.
public struct S3Credentials: CustomStringConvertible, CustomReflectable {
    public let accessKey: String
    public let secretKey: String

    public init(accessKey: String, secretKey: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    public var description: String { "access key \(accessKey)" }
    /// `dump` and `String(reflecting:)` of anything holding credentials show the key, not the secret.
    public var customMirror: Mirror { Mirror(self, children: ["accessKey": accessKey]) }
}
