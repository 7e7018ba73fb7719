/// ListObjectsV2: one page of keys under a prefix, the common prefixes under a delimiter, and the token
/// of the next page.
extension S3Client {
    public struct ListedObject: Equatable {
        public var key: String
        public var size: Int64
        public var etag: String?
    }

    public struct ListPage: Equatable {
        public var objects: [ListedObject] = []
        public var commonPrefixes: [String] = []
        /// Set when the listing goes on: pass it as `continuationToken` for the next page.
        public var nextContinuationToken: String?
    }

    public func listObjectsV2(prefix: String = "", delimiter: String? = nil, continuationToken: String? = nil,
                              maxKeys: Int? = nil, completion: @escaping (Result<ListPage, S3Error>) -> Void) {
        var query: [(name: String, value: String)] = [("list-type", "2")]
        if !prefix.isEmpty { query.append(("prefix", prefix)) }
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        if let maxKeys { query.append(("max-keys", String(maxKeys))) }
        send("GET", key: nil, query: query) { result in
            completion(result.flatMap { answer in
                do {
                    return .success(try Self.listPage(answer.body))
                } catch {
                    return .failure(.malformedAnswer("ListObjectsV2 answer: \(error)"))
                }
            })
        }
    }

    static func listPage(_ body: [UInt8]) throws -> ListPage {
        let root = try S3XML.parse(body)
        guard root.name == "ListBucketResult" else { throw S3XMLError.malformed("root is <\(root.name)>") }
        var page = ListPage()
        for entry in root.children("Contents") {
            guard let key = entry["Key"], let size = entry["Size"].flatMap({ Int64($0) }), size >= 0 else {
                throw S3XMLError.malformed("<Contents> without Key or a size")
            }
            page.objects.append(ListedObject(key: key, size: size, etag: entry["ETag"]))
        }
        page.commonPrefixes = root.children("CommonPrefixes").compactMap { $0["Prefix"] }
        if root["IsTruncated"] == "true" {
            guard let token = root["NextContinuationToken"], !token.isEmpty else {
                throw S3XMLError.malformed("a truncated listing without NextContinuationToken")
            }
            page.nextContinuationToken = token
        }
        return page
    }
}
