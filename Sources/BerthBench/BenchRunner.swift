import BerthHTTP
import BerthUpstream

/// Runs the scenarios one after another on one loop: first `GET /v2/` (does it challenge with Bearer?), then
/// each scenario's seeding (one connection, not measured), then its load.
struct BenchRunner {
    let settings: BenchSettings

    init(_ settings: BenchSettings) {
        self.settings = settings
    }

    func run() throws -> [ScenarioReport] {
        let address = try settings.target.resolve()
        let loop = EventLoop()
        let tls = try settings.target.isTLS ? (context: TLSContext(settings.tls), host: settings.target.host) : nil
        let credentials = settings.user.map { $0.split(separator: ":", maxSplits: 1).map(String.init) }
        let candidate = try BenchAuthorizer(loop: loop, target: settings.target, tls: settings.tls, username: credentials?.first,
                                            password: credentials?.last, timeoutMilliseconds: settings.timeoutMilliseconds)
        let authorizer = candidate.probe(loop: loop) ? candidate : nil
        var reports: [ScenarioReport] = []
        for name in settings.scenarios {
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
            var result = LoadRun(loop: loop, address: address, scenario: scenario, concurrency: settings.concurrency, stop: stop,
                                 timeoutMilliseconds: settings.timeoutMilliseconds, tls: tls, authorizer: authorizer).run()
            if let pull {
                result.imageLatency = pull.images
                result.failedImages = pull.failedImages
            }
            reports.append(ScenarioReport(name: name, seedRequests: seedRequests, result: result,
                                          tokenFetches: (authorizer?.fetches ?? 0) - fetchesBefore, challenges: challenges + result.challenges))
        }
        return reports
    }
}
