/// `push-monolithic`: POST then PUT of a `--size` blob per operation. The blobs are made (and hashed)
/// before the load, a pool of distinct ones cycled through, so the client's hashing is not timed.
final class PushMonolithicScenario: BenchScenario {
    let name = "push-monolithic"
    private let uploads: [BlobUpload]

    /// At most this much memory for the pool, and at most 32 blobs.
    static let poolBytes = 256 << 20

    init(_ context: ScenarioContext) {
        let count = max(1, min(32, PushMonolithicScenario.poolBytes / max(context.size, 1)))
        uploads = (0..<count).map { index in
            BlobUpload(repository: context.repository, blob: SyntheticBlob(seed: context.seed, stream: 1000 + UInt64(index), size: context.size),
                       heads: context.heads)
        }
    }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        uploads[operation % uploads.count].request(step: step, after: previous)
    }
}
