/// A named load: the registry state it needs (pushed first, not measured), and the requests of each of
/// its operations. An operation is one request for a pull, and POST then PUT for a monolithic push; the
/// latency histogram times operations. Scenarios build their fixed requests once, in `init`.
public protocol BenchScenario: AnyObject {
    var name: String { get }
    /// The requests that prepare the registry, run one at a time before the load; nil: nothing to prepare.
    func seeding() -> BenchScenario?
    /// Step `step` of operation `operation`; `previous` is the answer to the step before (nil for step 0).
    /// Nil ends the operation (it was the last step).
    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest?
    /// Operations it can run at most (a seeding list is finite); nil: as many as the run asks.
    var operationLimit: Int? { get }
    /// No step 0 now, but answers in flight will release some (pull-image's layers after its config).
    var hasWorkPending: Bool { get }
    /// Operation `operation` failed (wrong status or digest, no answer): it gets no next step.
    func failed(operation: Int)
    /// Its operations start at given times (replay): the run wakes its idle connections every millisecond.
    var isPaced: Bool { get }
    /// Counts of its own for the report (push-image's blobs uploaded and found present), by JSON name.
    var counters: [(String, Int)] { get }
}

extension BenchScenario {
    public func seeding() -> BenchScenario? { nil }
    public var operationLimit: Int? { nil }
    public var hasWorkPending: Bool { false }
    public func failed(operation: Int) {}
    public var counters: [(String, Int)] { [] }
    public var isPaced: Bool { false }
}

/// What every scenario is made from: the prepared image, the head builder, the repository, the options.
public struct ScenarioContext {
    public var repository: String
    public var tag: String
    public var seed: UInt64
    public var size: Int
    public var range: ClosedRange<Int>?
    public var byDigest: Bool
    public var verify: Bool
    public var seedRegistry: Bool
    public let heads: RequestHead
    /// push-chunked: bytes per PATCH.
    public var chunkSize = 1 << 20
    /// pull-image: the image's layers and their size, the images to pull (nil: for the duration), connections.
    public var layers = 3
    public var layerSize = 1 << 20
    public var images: Int?
    public var concurrency = 1
    /// push-image: how each missing blob is uploaded.
    public var upload = ImageUpload.streamed
    /// replay: the trace's records and the pace (2: twice as fast as recorded).
    public var trace: [TraceRecord] = []
    public var speed = 1.0
    /// mix: `name:weight,...`.
    public var mix = MixScenario.defaultWeights

    public init(repository: String, tag: String, seed: UInt64, size: Int, range: ClosedRange<Int>?, byDigest: Bool,
                verify: Bool, seedRegistry: Bool, heads: RequestHead) {
        self.repository = repository
        self.tag = tag
        self.seed = seed
        self.size = size
        self.range = range
        self.byDigest = byDigest
        self.verify = verify
        self.seedRegistry = seedRegistry
        self.heads = heads
    }

    /// The image all pull scenarios seed and read: its layer is `size` bytes.
    public var image: SyntheticImage { SyntheticImage(seed: seed, layerSize: size) }
}

/// The scenarios by the names the command line uses.
public enum ScenarioCatalog {
    public static let names = ["manifest-get", "manifest-head", "blob-get", "pull-image", "push-monolithic", "push-chunked",
                               "push-streamed", "mount", "tags-list", "catalog", "push-image", "delete-manifest", "mix", "replay", "mirror-cold"]
    /// What a mix may draw from: the loads of one operation at a time (not pull-image's images, not the rounds).
    public static let mixable = names.filter { !["pull-image", "mix", "replay", "mirror-cold"].contains($0) }

    /// Nil for a name that is not a plain load (`mirror-cold` has rounds of its own: MirrorColdRun).
    public static func make(_ name: String, _ context: ScenarioContext) -> BenchScenario? {
        switch name {
        case "manifest-get": return ManifestScenario(context, head: false)
        case "manifest-head": return ManifestScenario(context, head: true)
        case "blob-get": return BlobGetScenario(context)
        case "pull-image":
            return PullImageScenario(context, layers: context.layers, layerSize: context.layerSize, images: context.images,
                                     concurrency: context.concurrency)
        case "push-monolithic": return PushMonolithicScenario(context)
        case "push-chunked": return PushChunkedScenario(context, chunkSize: context.chunkSize)
        case "push-streamed": return PushChunkedScenario(context, chunkSize: nil)
        case "mount": return MountScenario(context)
        case "push-image": return PushImageScenario(context, upload: context.upload)
        case "delete-manifest": return DeleteManifestScenario(context)
        case "replay": return ReplayScenario(context, records: context.trace, speed: context.speed)
        case "mix":
            guard case .success(let weights) = MixScenario.parse(context.mix, known: mixable) else { return nil }
            return MixScenario(components: weights.map { ($0.0, make($0.0, context)!, $0.1) }, seed: context.seed)
        case "tags-list": return ListScenario(context, name: "tags-list", target: "/v2/\(context.repository)/tags/list")
        case "catalog": return ListScenario(context, name: "catalog", target: "/v2/_catalog", authSlot: .catalog)
        default: return nil
        }
    }
}
