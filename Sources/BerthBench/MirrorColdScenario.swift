import CLibUV

/// One round of `mirror-cold`: each of the run's connections is a client asking the mirror, at the same
/// moment, for one blob it has not cached (the round's own, pushed to the upstream before), or with
/// `--image` for a whole image: its manifest by tag, then its config and layers one after another. Each
/// client's time to the first body byte (of its first request) and to the last (of its last request) is
/// kept, in client order, for the round's report.
final class MirrorColdScenario: BenchScenario {
    let name = "mirror-cold"
    private let chain: [BenchRequest]
    private let clients: Int
    private var sentAt: [UInt64]
    /// Per client, nanoseconds from its request to its first body byte and to its last; nil: it failed.
    private(set) var firstByte: [UInt64?]
    private(set) var lastByte: [UInt64?]

    /// `manifest`: asked for first, by `tag`, then `blobs` in order.
    init(_ context: ScenarioContext, blobs: [SyntheticBlob], manifest: (tag: String, document: SyntheticBlob)?, clients: Int) {
        func get(_ target: String, _ headers: [String], _ bytes: [UInt8]) -> BenchRequest {
            BenchRequest(head: context.heads.make("GET", "/v2/\(context.repository)/\(target)", headers: headers), expected: 200...200,
                         expectedDigest: context.verify ? SHA256Value.of(bytes) : nil)
        }
        var chain = blobs.map { get("blobs/\($0.digest)", [], $0.bytes) }
        if let manifest { chain.insert(get("manifests/\(manifest.tag)", [ManifestScenario.accept], manifest.document.bytes), at: 0) }
        chain[0].timesFirstByte = true
        self.chain = chain
        self.clients = clients
        sentAt = Array(repeating: 0, count: clients)
        firstByte = Array(repeating: nil, count: clients)
        lastByte = Array(repeating: nil, count: clients)
    }

    var operationLimit: Int? { clients }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if step == 0 {
            sentAt[operation] = uv_hrtime()
            return chain[0]
        }
        let now = uv_hrtime()
        if step == 1, let previous {
            firstByte[operation] = (previous.firstByteAt > sentAt[operation] ? previous.firstByteAt : now) - sentAt[operation]
        }
        if step < chain.count { return chain[step] }
        lastByte[operation] = now - sentAt[operation]
        return nil
    }
}
