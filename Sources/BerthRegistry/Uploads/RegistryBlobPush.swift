import BerthHTTP
import BerthUpstream
import BerthStorage

/// Pushes one stored blob to a repository of an upstream registry (Kraken's `through=true`): nothing when
/// the upstream already has it, else a monolithic upload (`POST`, then `PUT ?digest=` with the bytes).
/// Loop-confined; the blob is read on the pool.
struct RegistryBlobPush {
    /// A through-push holds the blob in memory once; larger blobs are refused rather than exhaust it.
    static let maxBytes: Int64 = 2 << 30

    let upstream: RegistryClient
    let repository: String
    let digest: Digest
    let store: RegistryStore
    let loop: EventLoop

    func run(_ completion: @escaping (String?) -> Void) {
        let blobPath = "/v2/\(repository)/blobs/\(digest)"
        upstream.fetch("HEAD", blobPath, handler: UpstreamBodyCollector(limit: 1 << 20) { result in
            if case .success(let response) = result, response.status == 200 { return completion(nil) }
            startUpload(completion)
        })
    }

    private func startUpload(_ completion: @escaping (String?) -> Void) {
        upstream.fetch("POST", "/v2/\(repository)/blobs/uploads/", body: [],
                       handler: UpstreamBodyCollector(limit: 1 << 20) { result in
            switch result {
            case .success(let response) where response.status == 202:
                guard let location = response.headers["Location"], let target = uploadTarget(location) else {
                    return completion("the backend started an upload without a usable Location")
                }
                upload(to: target, completion)
            case .success(let response):
                completion("the backend answered \(response.status) to starting an upload in \(repository)")
            case .failure(let error):
                completion("starting an upload in \(repository): \(error)")
            }
        })
    }

    private func upload(to target: String, _ completion: @escaping (String?) -> Void) {
        let digest = self.digest
        loop.offload({ [store] () -> Result<[UInt8], Error> in
            Result { try store.readBlob(digest, limit: Int(Self.maxBytes)) }
        }, then: { [upstream] bytes in
            guard case .success(let body) = bytes else { return completion("reading blob \(digest) to push it: too large or unreadable") }
            let path = target + (target.contains("?") ? "&" : "?") + "digest=" + digest.description
            upstream.fetch("PUT", path, headers: [("Content-Type", "application/octet-stream")], body: body,
                           handler: UpstreamBodyCollector(limit: 1 << 20) { result in
                switch result {
                case .success(let response) where response.status == 201 || response.status == 204:
                    completion(nil)
                case .success(let response):
                    completion("the backend answered \(response.status) to the upload of \(digest)")
                case .failure(let error):
                    completion("uploading \(digest): \(error)")
                }
            })
        })
    }

    /// The upload's `Location` as a path under the upstream's base URL (registries answer absolute URLs
    /// or absolute paths).
    private func uploadTarget(_ location: String) -> String? {
        var target = location
        if location.hasPrefix("http://") || location.hasPrefix("https://") {
            guard let url = UpstreamURL(location) else { return nil }
            target = url.target
        }
        guard target.hasPrefix("/") else { return nil }
        let base = upstream.baseURL.target.hasSuffix("/") ? String(upstream.baseURL.target.dropLast()) : upstream.baseURL.target
        if !base.isEmpty, target.hasPrefix(base + "/") { target.removeFirst(base.count) }
        return target
    }
}
