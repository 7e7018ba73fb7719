import BerthStorage

/// `push-chunked` and `push-streamed` (OCI dist-spec "Pushing a blob in chunks" and Docker's streamed
/// upload): POST, then PATCHes of `--chunk-size` bytes each with `Content-Range`, or one PATCH of the whole
/// blob without it, each to the Location the answer before gave, then a PUT `?digest=` with no body. An
/// operation is the whole upload. Like push-monolithic, a pool of distinct blobs made and hashed before the load.
final class PushChunkedScenario: BenchScenario {
    let name: String
    private let blobs: [(body: PinnedBytes, digest: Digest)]
    private let heads: RequestHead
    private let start: BenchRequest
    /// Bytes per PATCH; nil: one PATCH of the whole blob, without `Content-Range` (streamed).
    private let chunkSize: Int?
    private let patches: Int

    init(_ context: ScenarioContext, chunkSize: Int?) {
        name = chunkSize == nil ? "push-streamed" : "push-chunked"
        heads = context.heads
        self.chunkSize = chunkSize
        let count = max(1, min(32, PushMonolithicScenario.poolBytes / max(context.size, 1)))
        blobs = (0..<count).map { index in
            let blob = SyntheticBlob(seed: context.seed, stream: 2000 + UInt64(index), size: context.size)
            return (PinnedBytes(blob.bytes), blob.digest)
        }
        patches = chunkSize.map { (context.size + $0 - 1) / $0 } ?? 1
        start = BenchRequest(head: heads.make("POST", "/v2/\(context.repository)/blobs/uploads/", contentLength: 0),
                             expected: 202...202, wantsLocation: true)
    }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        let blob = blobs[operation % blobs.count]
        if step == 0 { return start }
        let location = PushChunkedScenario.path(of: previous?.location ?? "")
        if step <= patches {
            let offset = (step - 1) * (chunkSize ?? blob.body.count)
            let length = min(chunkSize ?? blob.body.count, blob.body.count - offset)
            let range = chunkSize == nil ? [] : ["Content-Range: \(offset)-\(offset + length - 1)"]
            let head = heads.make("PATCH", location, headers: ["Content-Type: application/octet-stream"] + range, contentLength: length)
            return BenchRequest(head: head, body: UnsafeRawBufferPointer(rebasing: blob.body.bytes[offset..<offset + length]),
                                expected: 202...202, wantsLocation: true)
        }
        if step == patches + 1 {
            return BenchRequest(head: heads.make("PUT", BlobUpload.target(location: location, digest: blob.digest), contentLength: 0),
                                expected: 201...201)
        }
        return nil
    }

    /// The request target of a Location, which may be absolute.
    static func path(of location: String) -> String {
        guard let scheme = location.range(of: "://") else { return location }
        let rest = location[scheme.upperBound...]
        return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
    }
}

/// `mount`: cross-repository blob mount (OCI dist-spec "Mounting a blob from another repository"),
/// `POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<repo>-source`, answered 201. The seeding pushes the
/// `--size` blob into the source repository.
final class MountScenario: BenchScenario {
    let name = "mount"
    private let context: ScenarioContext
    private let blob: SyntheticBlob
    private let fixed: BenchRequest

    init(_ context: ScenarioContext) {
        self.context = context
        blob = SyntheticBlob(seed: context.seed, stream: 3000, size: context.size)
        let target = "/v2/\(context.repository)/blobs/uploads/?mount=\(blob.digest)&from=\(MountScenario.source(context))"
        fixed = BenchRequest(head: context.heads.make("POST", target, contentLength: 0), expected: 201...201)
    }

    static func source(_ context: ScenarioContext) -> String { context.repository + "-source" }

    func seeding() -> BenchScenario? {
        guard context.seedRegistry else { return nil }
        return BlobSeeding([BlobUpload(repository: MountScenario.source(context), blob: blob, heads: context.heads)])
    }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        step == 0 ? fixed : nil
    }
}

/// Blobs pushed monolithically one after another: the seeding of `mount` and of `mirror-cold`'s upstream.
final class BlobSeeding: BenchScenario {
    let name = "seed"
    private let uploads: [BlobUpload]

    init(_ uploads: [BlobUpload]) {
        self.uploads = uploads
    }

    var operationLimit: Int? { uploads.count }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        uploads[operation].request(step: step, after: previous)
    }
}
