import BerthHTTP
import BerthUpstream

/// Runs the scenarios one after another on one loop: first `GET /v2/` as Docker's clients ping it (does the
/// registry challenge with Bearer?), then each scenario's seeding (one connection, not measured), then its load.
struct BenchRunner {
    let settings: BenchSettings

    init(_ settings: BenchSettings) {
        self.settings = settings
    }

    func run() throws -> [ScenarioReport] {
        let address = try settings.target.resolve()
        let loop = EventLoop()
        let tls = try settings.target.isTLS ? (context: TLSContext(settings.tls), host: settings.target.host) : nil
        let probe = ProbeScenario(heads: RequestHead(host: settings.target.authority, authorization: nil))
        _ = LoadRun(loop: loop, address: address, scenario: probe, concurrency: 1, stop: .operations(1),
                    timeoutMilliseconds: settings.timeoutMilliseconds, tls: tls, readsChallenges: true).run()
        var authorizer: BenchAuthorizer?
        // Made only for a registry that challenges with Bearer: its client loads the system's CA store
        // (70 ms of CPU here), which an http:// run would otherwise pay at every start.
        if case .bearer? = probe.challenge.flatMap({ AuthChallenge.preferred(in: [$0]) }) {
            let credentials = settings.user.map { $0.split(separator: ":", maxSplits: 1).map(String.init) }
            authorizer = try BenchAuthorizer(loop: loop, target: settings.target, tls: settings.tls, username: credentials?.first,
                                             password: credentials?.last, timeoutMilliseconds: settings.timeoutMilliseconds)
        }
        var reports: [ScenarioReport] = []
        for name in settings.scenarios {
            if name == "mirror-cold" {
                let fetchesBefore = authorizer?.fetches ?? 0
                var report = try MirrorColdRun(settings: settings, loop: loop, mirror: address, tls: tls, authorizer: authorizer).run()
                report.tokenFetches = (authorizer?.fetches ?? 0) - fetchesBefore
                report.challenges = report.result.challenges
                reports.append(report)
                continue
            }
            let scenario = ScenarioCatalog.make(name, settings.context(bearer: authorizer != nil))!
            let fetchesBefore = authorizer?.fetches ?? 0
            var seedRequests = 0
            var challenges = 0
            if let seeding = scenario.seeding() {
                let result = LoadRun(loop: loop, address: address, scenario: seeding, concurrency: 1,
                                     stop: .operations(seeding.operationLimit ?? 1),
                                     timeoutMilliseconds: settings.timeoutMilliseconds, tls: tls, authorizer: authorizer).run()
                seedRequests = result.requests
                challenges = result.challenges
                if result.errorCount > 0 {
                    throw BenchError.seedingFailed(scenario: name, reason: ScenarioReport.errorText(result))
                }
            }
            let pull = scenario as? PullImageScenario
            var stop = settings.stop
            // pull-image counts whole images itself (ScenarioContext.images), not the run's per-request operations.
            if pull != nil, case .operations = stop { stop = .operations(Int.max) }
            // replay plays the whole trace (its operationLimit), at the trace's pace.
            if scenario.isPaced { stop = .operations(Int.max) }
            var result = LoadRun(loop: loop, address: address, scenario: scenario, concurrency: settings.concurrency, stop: stop,
                                 timeoutMilliseconds: settings.timeoutMilliseconds, tls: tls, authorizer: authorizer,
                                 samplesTimeline: settings.svg != nil).run()
            if let pull {
                result.imageLatency = pull.images
                result.failedImages = pull.failedImages
            }
            var report = ScenarioReport(name: name, seedRequests: seedRequests, result: result,
                                        tokenFetches: (authorizer?.fetches ?? 0) - fetchesBefore, challenges: challenges + result.challenges)
            report.counters = scenario.counters
            reports.append(report)
            if let mix = scenario as? MixScenario { reports += mix.componentReports(elapsed: result.elapsedNanoseconds) }
        }
        return reports
    }
}

/// `GET /v2/` once, whatever it answers: the challenge of a 401, if any, for the runner.
final class ProbeScenario: BenchScenario {
    let name = "probe"
    private let fixed: BenchRequest
    private(set) var challenge: String?

    init(heads: RequestHead) {
        fixed = BenchRequest(head: heads.make("GET", "/v2/"), expected: 100...599)
    }

    var operationLimit: Int? { 1 }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if step == 0 { return fixed }
        challenge = previous?.challenge
        return nil
    }
}
