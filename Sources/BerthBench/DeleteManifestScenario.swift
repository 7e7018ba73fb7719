import BerthStorage

/// `delete-manifest`: a manifest of its own pushed by digest (the seeded image's, with an annotation naming
/// the operation, so every one is new), then deleted by digest (OCI dist-spec "Deleting manifests", 202).
/// An operation is the PUT and the DELETE. The registry must allow deletes (`storage.delete.enabled`).
final class DeleteManifestScenario: BenchScenario {
    let name = "delete-manifest"
    private let context: ScenarioContext
    private let image: SyntheticImage
    /// The manifests of operations in flight: their bytes live until the DELETE is sent.
    private var manifests: [Int: (body: PinnedBytes, digest: Digest)] = [:]

    init(_ context: ScenarioContext) {
        self.context = context
        image = context.image
    }

    func seeding() -> BenchScenario? { context.seedRegistry ? ImageSeeding(context, image: image) : nil }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        let target = "/v2/\(context.repository)/manifests/"
        switch step {
        case 0:
            let text = String(decoding: image.manifest.bytes.dropLast(), as: UTF8.self)
                + ",\"annotations\":{\"berth.bench.operation\":\"\(context.seed)-\(operation)\"}}"
            let body = PinnedBytes(Array(text.utf8))
            let digest = Digest.sha256(of: body.bytes)
            manifests[operation] = (body, digest)
            let head = context.heads.make("PUT", target + "\(digest)", headers: ["Content-Type: \(SyntheticImage.manifestMediaType)"],
                                          contentLength: body.count)
            return BenchRequest(head: head, body: body.bytes, expected: 201...201)
        case 1:
            guard let manifest = manifests[operation] else { return nil }
            return BenchRequest(head: context.heads.make("DELETE", target + "\(manifest.digest)"), expected: 202...202)
        default:
            manifests[operation] = nil
            return nil
        }
    }

    func failed(operation: Int) {
        manifests[operation] = nil
    }
}
