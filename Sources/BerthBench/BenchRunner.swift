import BerthHTTP

/// Runs the scenarios one after another on one loop: each one's seeding (one connection, not measured),
/// then its load.
struct BenchRunner {
    let settings: BenchSettings

    init(_ settings: BenchSettings) {
        self.settings = settings
    }

    func run() throws -> [ScenarioReport] {
        let address = try settings.target.resolve()
        let loop = EventLoop()
        var reports: [ScenarioReport] = []
        for name in settings.scenarios {
            let scenario = ScenarioCatalog.make(name, settings.context())!
            var seedRequests = 0
            if let seeding = scenario.seeding() {
                let result = LoadRun(loop: loop, address: address, scenario: seeding, concurrency: 1,
                                     stop: .operations(seeding.operationLimit ?? 1),
                                     timeoutMilliseconds: settings.timeoutMilliseconds).run()
                seedRequests = result.requests
                if result.errorCount > 0 {
                    throw BenchError.seedingFailed(scenario: name, reason: ScenarioReport.errorText(result))
                }
            }
            let result = LoadRun(loop: loop, address: address, scenario: scenario, concurrency: settings.concurrency, stop: settings.stop,
                                 timeoutMilliseconds: settings.timeoutMilliseconds).run()
            reports.append(ScenarioReport(name: name, seedRequests: seedRequests, result: result))
        }
        return reports
    }
}
