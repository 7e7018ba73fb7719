import BerthHTTP
import BerthUpstream
import Glibc

/// `mirror-cold`: `--rounds` rounds of `--concurrency` clients asking the mirror at once for a blob of
/// `--size` bytes it has not cached, or with `--image` an image of `--layers` layers of `--layer-size` (its
/// manifest by the tag `cold-<round>`, its config, its layers). Each round's content is its own (streams from
/// 30000 + 1000 x round of the seed), pushed to `--upstream` before the first round, not timed; so within a run every round is cold (a second run
/// against the same mirror wants another `--seed`). Per client: time to the first body byte and to the
/// last; per round: the upstream's GETs of the blob, by its own books (UpstreamFetchCounter).
struct MirrorColdRun {
    static let firstStream: UInt64 = 30_000
    let settings: BenchSettings
    let loop: EventLoop
    let mirror: sockaddr_storage
    let tls: (context: TLSContext, host: String)?
    let authorizer: BenchAuthorizer?

    func run() throws -> ScenarioReport {
        guard let upstreamTarget = settings.upstream else { throw BenchError.seedingFailed(scenario: "mirror-cold", reason: "no --upstream") }
        let upstream = try upstreamTarget.resolve()
        let upstreamTLS = try upstreamTarget.isTLS ? (context: TLSContext(settings.tls), host: upstreamTarget.host) : nil
        // No credentials go to the upstream: it is the harness's own setup, not the registry under test.
        let upstreamHeads = RequestHead(host: upstreamTarget.authority, authorization: nil)
        let rounds = (0..<settings.rounds).map { round -> ColdRound in
            let stream = MirrorColdRun.firstStream + 1000 * UInt64(round)
            guard settings.coldImage else { return ColdRound(blobs: [SyntheticBlob(seed: settings.seed, stream: stream, size: settings.size)]) }
            let image = SyntheticLayeredImage(seed: settings.seed, stream: stream, layers: settings.layers, layerSize: settings.layerSize)
            return ColdRound(blobs: [image.config] + image.layers, manifest: ("cold-\(round)", image.manifest))
        }
        let uploads = rounds.flatMap(\.blobs).map { BlobUpload(repository: settings.repository, blob: $0, heads: upstreamHeads) }
        let puts = ManifestPuts(rounds.compactMap(\.manifest), repository: settings.repository, heads: upstreamHeads)
        let seeding = SeedingSequence([BlobSeeding(uploads), puts])
        let seeded = LoadRun(loop: loop, address: upstream, scenario: seeding, concurrency: 1, stop: .operations(seeding.operationLimit!),
                             timeoutMilliseconds: settings.timeoutMilliseconds, tls: upstreamTLS).run()
        if seeded.errorCount > 0 {
            throw BenchError.seedingFailed(scenario: "mirror-cold", reason: "pushing to the upstream: " + ScenarioReport.errorText(seeded))
        }

        func metrics() -> Int? {
            let reader = MetricsScenario(heads: upstreamHeads)
            _ = LoadRun(loop: loop, address: upstream, scenario: reader, concurrency: 1, stop: .operations(1),
                        timeoutMilliseconds: settings.timeoutMilliseconds, tls: upstreamTLS).run()
            return reader.body.flatMap(UpstreamFetchCounter.blobPulls(inMetrics:))
        }
        let counter: UpstreamFetchCounter
        if let path = settings.upstreamLog {
            counter = UpstreamFetchCounter.read(path) == nil ? .unknown(reason: "cannot read \(path)") : .log(path: path)
        } else if metrics() != nil {
            counter = .metrics
        } else {
            counter = .unknown(reason: "the upstream's /metrics has no \(UpstreamFetchCounter.metricName) (not Berth): give --upstream-log FILE")
        }

        var figures = MirrorColdFigures(counter: counter)
        var total = RunResult()
        for round in rounds {
            func logged() -> Int {
                guard case .log(let path) = counter, let text = UpstreamFetchCounter.read(path) else { return 0 }
                return round.blobs.reduce(0) { $0 + UpstreamFetchCounter.gets(of: "\($1.digest)", inLog: text) }
            }
            // A difference over the round in both books: an upstream shared by `--compare`'s second mirror
            // has the first one's GETs of the same blob already.
            let before = counter.isMetrics ? UpstreamFetchCounter.settled(pause: 1100) { metrics() ?? 0 } : logged()
            let scenario = MirrorColdScenario(settings.context(bearer: authorizer != nil), blobs: round.blobs, manifest: round.manifest,
                                              clients: settings.concurrency)
            let result = LoadRun(loop: loop, address: mirror, scenario: scenario, concurrency: settings.concurrency,
                                 stop: .operations(settings.concurrency), timeoutMilliseconds: settings.timeoutMilliseconds,
                                 tls: tls, authorizer: authorizer).run()
            total.add(result)
            var fetches: Int?
            switch counter {
            case .metrics: fetches = UpstreamFetchCounter.settled(pause: 1100) { metrics() ?? 0 } - before
            case .log: fetches = UpstreamFetchCounter.settled(pause: 500, logged) - before
            case .unknown: fetches = nil
            }
            figures.append(MirrorColdRound(digest: "\((round.manifest?.document ?? round.blobs[0]).digest)", firstByte: scenario.firstByte, lastByte: scenario.lastByte,
                                           upstreamFetches: fetches))
        }
        var report = ScenarioReport(name: "mirror-cold", seedRequests: seeded.requests, result: total)
        report.mirror = figures
        return report
    }
}

/// What one round asks for: blobs, and with `--image` first a manifest by tag.
struct ColdRound {
    var blobs: [SyntheticBlob]
    var manifest: (tag: String, document: SyntheticBlob)?
}

/// Manifests PUT by tag one after another: mirror-cold's images on the upstream, after their blobs.
final class ManifestPuts: BenchScenario {
    let name = "seed"
    private let bodies: [PinnedBytes]
    private let puts: [BenchRequest]

    init(_ manifests: [(tag: String, document: SyntheticBlob)], repository: String, heads: RequestHead) {
        bodies = manifests.map { PinnedBytes($0.document.bytes) }
        puts = zip(manifests, bodies).map { manifest, body in
            BenchRequest(head: heads.make("PUT", "/v2/\(repository)/manifests/\(manifest.tag)",
                                          headers: ["Content-Type: \(SyntheticImage.manifestMediaType)"], contentLength: body.count),
                         body: body.bytes, expected: 201...201)
        }
    }

    var operationLimit: Int? { puts.count }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        step == 0 ? puts[operation] : nil
    }
}

/// `GET /metrics` once, its body kept (nil: no 200).
final class MetricsScenario: BenchScenario {
    let name = "metrics"
    private let fixed: BenchRequest
    private(set) var body: String?

    init(heads: RequestHead) {
        var request = BenchRequest(head: heads.make("GET", "/metrics"), expected: 100...599)
        request.keepsBody = true
        fixed = request
    }

    var operationLimit: Int? { 1 }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if step == 0 { return fixed }
        if let previous, previous.status == 200 { body = String(decoding: previous.kept, as: UTF8.self) }
        return nil
    }
}

extension UpstreamFetchCounter {
    var isMetrics: Bool { if case .metrics = self { return true } else { return false } }
}

extension RunResult {
    /// Another run's counts added to these (rounds of one scenario); elapsed times add up.
    mutating func add(_ other: RunResult) {
        requests += other.requests
        operations += other.operations
        failedOperations += other.failedOperations
        bytesReceived += other.bytesReceived
        bytesSent += other.bytesSent
        errorsByStatus.merge(other.errorsByStatus, uniquingKeysWith: +)
        digestMismatches += other.digestMismatches
        connectionErrors += other.connectionErrors
        timeouts += other.timeouts
        connectFailures.merge(other.connectFailures, uniquingKeysWith: +)
        challenges += other.challenges
        tokenFailures.merge(other.tokenFailures, uniquingKeysWith: +)
        elapsedNanoseconds += other.elapsedNanoseconds
        latency.add(other.latency)
    }
}
