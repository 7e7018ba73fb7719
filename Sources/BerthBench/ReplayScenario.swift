import CLibUV

/// `replay --trace FILE`: the trace's requests at their recorded times (`--speed 2`: twice as fast), each
/// against synthetic content of the recorded size under `--repo`, prepared before the load (not timed):
/// a blob read (GET or HEAD) asks for a blob pushed first, one per distinct recorded blob, as large as the
/// largest answer the trace recorded for it; a manifest read asks for the seeded image's manifest; a blob
/// push (PUT) is a monolithic push (POST, PUT) of a new blob of the recorded size; a manifest PUT puts the
/// seeded manifest under a tag of its own. Other requests are counted as `skipped`. An operation starts
/// once it is due and a connection is free; how late the latest one started is `max_lag_ms`.
final class ReplayScenario: BenchScenario {
    let name = "replay"
    private enum Step {
        case read(BenchRequest)
        case upload(BlobUpload)
    }

    private let plan: [(due: UInt64, step: Step)]
    private let context: ScenarioContext
    private let image: SyntheticImage
    private let readBlobs: [SyntheticBlob]
    private let manifest: PinnedBytes
    private let skipped: Int
    private var started: UInt64 = 0
    private var next = 0
    private var maxLag: UInt64 = 0

    /// At most this much synthetic content (blobs read and pushed), held for the run.
    static let contentLimit = 1 << 30

    struct TooLarge: Error, CustomStringConvertible {
        let bytes: Int
        var description: String { "the trace needs \(bytes) bytes of synthetic blobs; at most \(ReplayScenario.contentLimit)" }
    }

    static func contentBytes(_ records: [TraceRecord]) -> Int {
        var largest: [String: Int] = [:]
        var pushed = 0
        for record in records {
            if record.kind == .blobRead { largest[blobKey(record)] = max(largest[blobKey(record)] ?? 0, record.size) }
            if record.kind == .blobUpload { pushed += record.size }
        }
        return largest.values.reduce(pushed, +)
    }

    /// The recorded blob a read names: the last component of its target.
    static func blobKey(_ record: TraceRecord) -> String {
        record.uri.split(separator: "/").last.map(String.init) ?? ""
    }

    init(_ context: ScenarioContext, records: [TraceRecord], speed: Double) {
        self.context = context
        image = context.image
        manifest = PinnedBytes(image.manifest.bytes)
        let repository = context.repository
        // Blob reads: one synthetic blob per recorded blob, as large as its largest recorded answer.
        var blobIndex: [String: Int] = [:]
        var sizes: [Int] = []
        for record in records where record.kind == .blobRead {
            let key = ReplayScenario.blobKey(record)
            let index = blobIndex[key] ?? sizes.count
            if index == sizes.count {
                blobIndex[key] = index
                sizes.append(0)
            }
            sizes[index] = max(sizes[index], record.size)
        }
        readBlobs = sizes.enumerated().map { SyntheticBlob(seed: context.seed, stream: 50_000 + UInt64($0.offset), size: $0.element) }
        var plan: [(due: UInt64, step: Step)] = []
        var skipped = 0
        for (number, record) in records.enumerated() {
            let due = UInt64(record.seconds / speed * 1e9)
            switch record.kind {
            case .blobRead:
                let blob = readBlobs[blobIndex[ReplayScenario.blobKey(record)]!]
                let head = record.method == "HEAD"
                plan.append((due, .read(BenchRequest(head: context.heads.make(record.method, "/v2/\(repository)/blobs/\(blob.digest)"), isHead: head,
                                                     expected: 200...200, expectedDigest: context.verify && !head ? SHA256Value.of(blob.bytes) : nil))))
            case .manifestRead:
                let head = record.method == "HEAD"
                plan.append((due, .read(BenchRequest(head: context.heads.make(record.method, "/v2/\(repository)/manifests/\(context.tag)",
                                                                             headers: [ManifestScenario.accept]),
                                                     isHead: head, expected: 200...200))))
            case .blobUpload:
                let blob = SyntheticBlob(seed: context.seed, stream: 60_000 + UInt64(number), size: record.size)
                plan.append((due, .upload(BlobUpload(repository: repository, blob: blob, heads: context.heads))))
            case .manifestPush:
                let put = context.heads.make("PUT", "/v2/\(repository)/manifests/replay-\(number)",
                                             headers: ["Content-Type: \(SyntheticImage.manifestMediaType)"], contentLength: manifest.count)
                plan.append((due, .read(BenchRequest(head: put, body: manifest.bytes, expected: 201...201))))
            case .other:
                skipped += 1
            }
        }
        self.plan = plan
        self.skipped = skipped
    }

    var isPaced: Bool { true }
    var operationLimit: Int? { plan.count }
    var hasWorkPending: Bool { next < plan.count }
    var counters: [(String, Int)] {
        [("records", plan.count + skipped), ("replayed", plan.count), ("skipped", skipped), ("max_lag_ms", Int(maxLag / 1_000_000))]
    }

    func seeding() -> BenchScenario? {
        guard context.seedRegistry else { return nil }
        let blobs = BlobSeeding(readBlobs.map { BlobUpload(repository: context.repository, blob: $0, heads: context.heads) })
        return SeedingSequence([ImageSeeding(context, image: image), blobs])
    }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if step == 0 {
            let now = uv_hrtime()
            if started == 0 { started = now }
            guard operation < plan.count, now - started >= plan[operation].due else { return nil }
            maxLag = max(maxLag, now - started - plan[operation].due)
            next = operation + 1
        }
        switch plan[operation].step {
        case .read(let request): return step == 0 ? request : nil
        case .upload(let upload): return upload.request(step: step, after: previous)
        }
    }
}
