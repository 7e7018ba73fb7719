import BerthStorage

/// A monolithic blob push as two steps (OCI dist-spec "Pushing a blob monolithically", POST then PUT):
/// the POST opens an upload, the PUT to its Location with `?digest=` carries the bytes.
struct BlobUpload {
    let body: PinnedBytes
    let digest: Digest
    let start: BenchRequest
    let heads: RequestHead

    init(repository: String, blob: SyntheticBlob, heads: RequestHead) {
        body = PinnedBytes(blob.bytes)
        digest = blob.digest
        self.heads = heads
        start = BenchRequest(head: heads.make("POST", "/v2/\(repository)/blobs/uploads/", contentLength: 0),
                             expected: 202...202, wantsLocation: true)
    }

    func request(step: Int, after previous: BenchResponse?) -> BenchRequest? {
        switch step {
        case 0: return start
        case 1:
            let target = BlobUpload.target(location: previous?.location ?? "", digest: digest)
            let head = heads.make("PUT", target, headers: ["Content-Type: application/octet-stream"], contentLength: body.count)
            return BenchRequest(head: head, body: body.bytes, expected: 201...201)
        default: return nil
        }
    }

    /// The request target for the PUT: the Location's path and query (it may be absolute), and the digest.
    static func target(location: String, digest: Digest) -> String {
        var path = Substring(location)
        if let scheme = path.range(of: "://") {
            let rest = path[scheme.upperBound...]
            path = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        return path + (path.contains("?") ? "&" : "?") + "digest=\(digest)"
    }
}

/// The seeding of pull scenarios: the synthetic image's two blobs, then its manifest under the tag.
final class ImageSeeding: BenchScenario {
    let name = "seed"
    private let uploads: [BlobUpload]
    private let manifest: PinnedBytes
    private let manifestPut: BenchRequest

    init(_ context: ScenarioContext, image: SyntheticImage) {
        uploads = [image.config, image.layer].map { BlobUpload(repository: context.repository, blob: $0, heads: context.heads) }
        manifest = PinnedBytes(image.manifest.bytes)
        let head = context.heads.make("PUT", "/v2/\(context.repository)/manifests/\(context.tag)",
                                      headers: ["Content-Type: \(SyntheticImage.manifestMediaType)"], contentLength: manifest.count)
        manifestPut = BenchRequest(head: head, body: manifest.bytes, expected: 201...201)
    }

    var operationLimit: Int? { uploads.count + 1 }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if operation < uploads.count { return uploads[operation].request(step: step, after: previous) }
        return step == 0 ? manifestPut : nil
    }
}
