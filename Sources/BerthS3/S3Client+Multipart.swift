/// S3 multipart uploads: a large object goes as parts (each at least 5 MiB but the last), then one request
/// assembles them in order.
extension S3Client {
    public struct CompletedPart: Equatable {
        public var number: Int
        public var etag: String

        public init(number: Int, etag: String) {
            self.number = number
            self.etag = etag
        }
    }

    /// CreateMultipartUpload; the upload's id.
    public func createMultipartUpload(_ key: String, contentType: String = "application/octet-stream",
                                      completion: @escaping (Result<String, S3Error>) -> Void) {
        send("POST", key: key, query: [("uploads", "")], headers: [("Content-Type", contentType)]) { result in
            completion(result.flatMap { answer in
                guard let root = try? S3XML.parse(answer.body), root.name == "InitiateMultipartUploadResult",
                      let id = root["UploadId"], !id.isEmpty else {
                    return .failure(.malformedAnswer("CreateMultipartUpload answer has no UploadId"))
                }
                return .success(id)
            })
        }
    }

    /// UploadPart `number` (1...10000); the part's ETag, which CompleteMultipartUpload needs.
    public func uploadPart(_ key: String, uploadID: String, number: Int, body: [UInt8],
                           completion: @escaping (Result<CompletedPart, S3Error>) -> Void) {
        send("PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: body) { result in
            completion(result.flatMap { answer in
                guard let etag = answer.headers["ETag"] else { return .failure(.malformedAnswer("UploadPart answer has no ETag")) }
                return .success(CompletedPart(number: number, etag: etag))
            })
        }
    }

    /// CompleteMultipartUpload with `parts` in order; the object's ETag.
    public func completeMultipartUpload(_ key: String, uploadID: String, parts: [CompletedPart],
                                        completion: @escaping (Result<String?, S3Error>) -> Void) {
        var xml = "<CompleteMultipartUpload>"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(Self.escaped(part.etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        send("POST", key: key, query: [("uploadId", uploadID)], headers: [("Content-Type", "application/xml")],
             body: Array(xml.utf8)) { result in
            completion(result.flatMap { answer in
                // As with a copy, the 200 may come before the assembly fails; the error is then the body.
                guard let root = try? S3XML.parse(answer.body) else {
                    return .failure(.malformedAnswer("CompleteMultipartUpload answer is not XML"))
                }
                if root.name == "Error" { return .failure(S3Error.from(status: answer.status, body: answer.body)) }
                return .success(root["ETag"])
            })
        }
    }

    public func abortMultipartUpload(_ key: String, uploadID: String, completion: @escaping (Result<Void, S3Error>) -> Void) {
        send("DELETE", key: key, query: [("uploadId", uploadID)]) { result in completion(result.map { _ in () }) }
    }

    /// By Unicode scalar, not by Character: a `<` or `&` followed by a combining mark is one Character, and
    /// would be written unescaped.
    static func escaped(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
