import BerthHTTP
import BerthUpstream
import Glibc

/// `mirror-cold`: `--rounds` rounds of `--concurrency` clients asking the mirror at once for a blob of
/// `--size` bytes it has not cached. Each round's blob is its own (stream 30000 + round of the seed), pushed
/// to `--upstream` before the first round, not timed; so within a run every round is cold (a second run
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
        let blobs = (0..<settings.rounds).map { SyntheticBlob(seed: settings.seed, stream: MirrorColdRun.firstStream + UInt64($0), size: settings.size) }
        let seeding = BlobSeeding(blobs.map { BlobUpload(repository: settings.repository, blob: $0, heads: upstreamHeads) })
        let seeded = LoadRun(loop: loop, address: upstream, scenario: seeding, concurrency: 1, stop: .operations(blobs.count),
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
        for blob in blobs {
            func logged() -> Int {
                guard case .log(let path) = counter else { return 0 }
                return UpstreamFetchCounter.gets(of: "\(blob.digest)", inLog: UpstreamFetchCounter.read(path) ?? "")
            }
            // A difference over the round in both books: an upstream shared by `--compare`'s second mirror
            // has the first one's GETs of the same blob already.
            let before = counter.isMetrics ? UpstreamFetchCounter.settled(pause: 1100) { metrics() ?? 0 } : logged()
            let scenario = MirrorColdScenario(settings.context(bearer: authorizer != nil), blob: blob, clients: settings.concurrency)
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
            figures.append(MirrorColdRound(digest: "\(blob.digest)", firstByte: scenario.firstByte, lastByte: scenario.lastByte,
                                           upstreamFetches: fetches))
        }
        var report = ScenarioReport(name: "mirror-cold", seedRequests: seeded.requests, result: total)
        report.mirror = figures
        return report
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
