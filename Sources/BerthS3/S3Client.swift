import BerthUpstream

/// An S3 client for one bucket, path-style (`/bucket/key`), every request signed with Signature V4, sent
/// through BerthUpstream's client (its keep-alive pool, TLS and timeouts) on its libuv loop.
/// Loop-confined: call it and hear back on the loop's thread. Operations on multipart uploads and
/// listings are in the extensions beside this file.
public final class S3Client {
    public struct Configuration {
        /// Scheme, host and port of the service; its path is not used.
        public var endpoint: UpstreamURL
        public var region: String
        public var bucket: String
        public var credentials: S3Credentials
        /// Whether bodies are hashed into the signature (`x-amz-content-sha256`), or sent as UNSIGNED-PAYLOAD.
        public var signPayloads = true

        public init(endpoint: UpstreamURL, region: String, bucket: String, credentials: S3Credentials) {
            self.endpoint = endpoint
            self.region = region
            self.bucket = bucket
            self.credentials = credentials
        }
    }

    public struct ObjectHead: Equatable {
        public var status: Int
        public var contentLength: Int64?
        public var etag: String?
        /// From `Content-Range` (`bytes a-b/total`) on a range answer, else the content length.
        public var totalSize: Int64?
    }

    public let upstream: UpstreamClient
    public let configuration: Configuration
    let signer: SignatureV4
    /// Largest XML answer read (a ListObjectsV2 page of 1000 keys is well under this).
    static let answerLimit = 8 << 20

    public init(upstream: UpstreamClient, configuration: Configuration) {
        self.upstream = upstream
        self.configuration = configuration
        signer = SignatureV4(credentials: configuration.credentials, region: configuration.region)
    }

    // MARK: Objects

    /// PutObject of `body` (one request; larger objects go as a multipart upload, see `uploadPart`).
    public func putObject(_ key: String, body: [UInt8], contentType: String = "application/octet-stream",
                          completion: @escaping (Result<String?, S3Error>) -> Void) {
        send("PUT", key: key, headers: [("Content-Type", contentType)], body: body) { result in
            completion(result.map { $0.headers["ETag"] })
        }
    }

    /// GetObject: the body (or the `range` of it, inclusive, as in an HTTP Range) to `sink` as it arrives,
    /// never held whole; `completion` once it has all come, or on failure.
    public func getObject(_ key: String, range: ClosedRange<Int64>? = nil, sink: @escaping (UnsafeRawBufferPointer) -> Void,
                          completion: @escaping (Result<ObjectHead, S3Error>) -> Void) {
        let headers = range.map { [("Range", "bytes=\($0.lowerBound)-\($0.upperBound)")] } ?? []
        send("GET", key: key, headers: headers, sink: sink) { result in
            completion(result.map(Self.objectHead))
        }
    }

    public func headObject(_ key: String, completion: @escaping (Result<ObjectHead, S3Error>) -> Void) {
        send("HEAD", key: key) { result in completion(result.map(Self.objectHead)) }
    }

    /// DeleteObject; S3 answers 204 for a key that does not exist too.
    public func deleteObject(_ key: String, completion: @escaping (Result<Void, S3Error>) -> Void) {
        send("DELETE", key: key) { result in completion(result.map { _ in () }) }
    }

    /// CopyObject within the bucket; the new object's ETag.
    public func copyObject(from source: String, to key: String, completion: @escaping (Result<String?, S3Error>) -> Void) {
        let copySource = "/" + configuration.bucket + "/" + S3URIEncoding.encode(source, keepSlash: true)
        send("PUT", key: key, headers: [("x-amz-copy-source", copySource)]) { result in
            completion(result.flatMap { answer in
                // A copy may fail after its 200 went out: the error is then the body.
                guard let root = try? S3XML.parse(answer.body) else { return .failure(.malformedAnswer("CopyObject answer is not XML")) }
                if root.name == "Error" { return .failure(S3Error.from(status: answer.status, body: answer.body)) }
                return .success(root["ETag"])
            })
        }
    }

    static func objectHead(_ answer: S3ResponseHandler.Answer) -> ObjectHead {
        let length = answer.headers["Content-Length"].flatMap { Int64($0) }
        var total = length
        if let range = answer.headers["Content-Range"], let slash = range.lastIndex(of: "/") {
            total = Int64(range[range.index(after: slash)...])
        }
        return ObjectHead(status: answer.status, contentLength: length, etag: answer.headers["ETag"], totalSize: total)
    }

    // MARK: Sending

    /// Signs and sends one request; a non-2xx answer becomes its S3Error.
    func send(_ method: String, key: String?, query: [(name: String, value: String)] = [],
              headers extra: [(name: String, value: String)] = [], body: [UInt8]? = nil,
              sink: ((UnsafeRawBufferPointer) -> Void)? = nil,
              completion: @escaping (Result<S3ResponseHandler.Answer, S3Error>) -> Void) {
        var path = "/" + S3URIEncoding.encode(configuration.bucket, keepSlash: false)
        if let key { path += "/" + S3URIEncoding.encode(key, keepSlash: true) }
        let queryText = S3URIEncoding.canonicalQuery(query)
        var url = configuration.endpoint
        url.target = queryText.isEmpty ? path : path + "?" + queryText
        let payloadHash: String
        if let body, !body.isEmpty {
            payloadHash = configuration.signPayloads ? SigningCrypto.hex(SigningCrypto.sha256(body)) : SignatureV4.unsignedPayload
        } else {
            payloadHash = SignatureV4.emptyPayloadHash
        }
        let date = AmzDate.now()
        var headers: [(name: String, value: String)] = [("Host", url.hostHeader), ("x-amz-date", date.timestamp),
                                                        ("x-amz-content-sha256", payloadHash)]
        headers += extra
        let request = SignatureV4.Request(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash)
        headers.append(("Authorization", signer.authorization(request, date: date)))
        let handler = S3ResponseHandler(limit: Self.answerLimit, sink: sink) { result in
            completion(result.flatMap { answer in
                (200...299).contains(answer.status) ? .success(answer) : .failure(S3Error.from(status: answer.status, body: answer.body))
            })
        }
        upstream.send(UpstreamRequest(method: method, url: url, headers: headers.filter { $0.name != "Host" }, body: body), to: handler)
    }
}
