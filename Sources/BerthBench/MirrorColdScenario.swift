import CLibUV

/// One round of `mirror-cold`: each of the run's connections is a client asking the mirror, at the same
/// moment, for one blob it has not cached (the round's own, pushed to the upstream before). Each client's
/// time to the first body byte and to the last is kept, in client order, for the round's report.
final class MirrorColdScenario: BenchScenario {
    let name = "mirror-cold"
    private let fixed: BenchRequest
    private let clients: Int
    private var sentAt: [UInt64]
    /// Per client, nanoseconds from its request to its first body byte and to its last; nil: it failed.
    private(set) var firstByte: [UInt64?]
    private(set) var lastByte: [UInt64?]

    init(_ context: ScenarioContext, blob: SyntheticBlob, clients: Int) {
        var request = BenchRequest(head: context.heads.make("GET", "/v2/\(context.repository)/blobs/\(blob.digest)"), expected: 200...200,
                                   expectedDigest: context.verify ? SHA256Value.of(blob.bytes) : nil)
        request.timesFirstByte = true
        fixed = request
        self.clients = clients
        sentAt = Array(repeating: 0, count: clients)
        firstByte = Array(repeating: nil, count: clients)
        lastByte = Array(repeating: nil, count: clients)
    }

    var operationLimit: Int? { clients }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if step == 0 {
            sentAt[operation] = uv_hrtime()
            return fixed
        }
        if let previous {
            let now = uv_hrtime()
            let first = previous.firstByteAt > sentAt[operation] ? previous.firstByteAt : now
            firstByte[operation] = first - sentAt[operation]
            lastByte[operation] = now - sentAt[operation]
        }
        return nil
    }
}
