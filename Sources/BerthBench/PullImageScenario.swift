import CLibUV

/// `pull-image`: a whole image as containerd pulls it: the index by tag, the linux/amd64 manifest by digest,
/// its config, then its `--layers` layers in parallel over the run's connections. An operation of the run is
/// one of these requests (timed per request); the image is timed from its index request to its last layer
/// (`images`), and `--requests` counts images. At most `max(1, concurrency / layers)` images are in flight, so
/// the layers of one image spread over several connections. The seeding pushes the image first.
final class PullImageScenario: BenchScenario {
    let name = "pull-image"
    private let context: ScenarioContext
    private let image: SyntheticIndex
    /// The index, the manifest, the config: one after another; then every layer at once.
    private let chain: [BenchRequest]
    private let layerRequests: [BenchRequest]
    private let imageLimit: Int?
    private let inFlightLimit: Int

    private struct Pull {
        var started: UInt64
        var nextChain = 0
        var nextLayer = 0
        var outstanding = 0
        var failed = false
    }

    /// Pulls in flight, oldest first; the requests of the run's operations by operation number.
    private var pulls: [Int: Pull] = [:]
    private var order: [Int] = []
    private var started = 0
    private var owner: [Int: Int] = [:]
    private(set) var images = LatencyHistogram()
    private(set) var failedImages = 0

    init(_ context: ScenarioContext, layers: Int, layerSize: Int, images: Int?, concurrency: Int) {
        self.context = context
        image = SyntheticIndex(seed: context.seed, layers: layers, layerSize: layerSize)
        let repository = context.repository
        let verify = context.verify
        func get(_ target: String, _ headers: [String], _ bytes: [UInt8]) -> BenchRequest {
            BenchRequest(head: context.heads.make("GET", target, headers: headers), expected: 200...200,
                         expectedDigest: verify ? SHA256Value.of(bytes) : nil)
        }
        chain = [get("/v2/\(repository)/manifests/\(context.tag)", [ManifestScenario.accept], image.index.bytes),
                 get("/v2/\(repository)/manifests/\(image.manifests[0].digest)", [ManifestScenario.accept], image.manifests[0].bytes),
                 get("/v2/\(repository)/blobs/\(image.configs[0].digest)", [], image.configs[0].bytes)]
        layerRequests = image.layers.map { get("/v2/\(repository)/blobs/\($0.digest)", [], $0.bytes) }
        imageLimit = images
        inFlightLimit = max(1, concurrency / max(layers, 1))
    }

    func seeding() -> BenchScenario? { context.seedRegistry ? IndexSeeding(context, image: image) : nil }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if step > 0 {
            finished(operation, ok: true)
            return nil
        }
        for id in order where pulls[id]!.failed == false {
            if let request = take(from: id, operation: operation) { return request }
        }
        guard order.count < inFlightLimit, imageLimit.map({ started < $0 }) ?? true else { return nil }
        let id = started
        started += 1
        pulls[id] = Pull(started: uv_hrtime())
        order.append(id)
        return take(from: id, operation: operation)
    }

    /// The next request of pull `id` that may go now, if any.
    private func take(from id: Int, operation: Int) -> BenchRequest? {
        var pull = pulls[id]!
        defer { pulls[id] = pull }
        let request: BenchRequest
        if pull.nextChain < chain.count {
            guard pull.outstanding == 0 else { return nil }
            request = chain[pull.nextChain]
            pull.nextChain += 1
        } else if pull.nextLayer < layerRequests.count {
            request = layerRequests[pull.nextLayer]
            pull.nextLayer += 1
        } else {
            return nil
        }
        pull.outstanding += 1
        owner[operation] = id
        return request
    }

    var hasWorkPending: Bool { !order.isEmpty }

    func failed(operation: Int) {
        finished(operation, ok: false)
    }

    private func finished(_ operation: Int, ok: Bool) {
        guard let id = owner.removeValue(forKey: operation), var pull = pulls[id] else { return }
        pull.outstanding -= 1
        if !ok { pull.failed = true }
        pulls[id] = pull
        let complete = pull.nextChain == chain.count && pull.nextLayer == layerRequests.count && pull.outstanding == 0
        guard complete || (pull.failed && pull.outstanding == 0) else { return }
        if pull.failed { failedImages += 1 } else { images.record(uv_hrtime() - pull.started) }
        pulls[id] = nil
        order.removeAll { $0 == id }
    }
}

/// The seeding of `pull-image`: configs and layers (POST and PUT each), both platforms' manifests by digest,
/// then the index under the tag.
final class IndexSeeding: BenchScenario {
    let name = "seed"
    private let uploads: [BlobUpload]
    private let bodies: [PinnedBytes]
    private let puts: [BenchRequest]

    init(_ context: ScenarioContext, image: SyntheticIndex) {
        uploads = (image.configs + image.layers).map { BlobUpload(repository: context.repository, blob: $0, heads: context.heads) }
        let documents = image.manifests.map { ($0, "\($0.digest)", SyntheticImage.manifestMediaType) }
            + [(image.index, context.tag, SyntheticIndex.indexMediaType)]
        bodies = documents.map { PinnedBytes($0.0.bytes) }
        puts = zip(documents, bodies).map { document, body in
            let head = context.heads.make("PUT", "/v2/\(context.repository)/manifests/\(document.1)",
                                          headers: ["Content-Type: \(document.2)"], contentLength: body.count)
            return BenchRequest(head: head, body: body.bytes, expected: 201...201)
        }
    }

    var operationLimit: Int? { uploads.count + puts.count }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if operation < uploads.count { return uploads[operation].request(step: step, after: previous) }
        return step == 0 ? puts[operation - uploads.count] : nil
    }
}
