import CLibUV

/// `mix`: operations of several scenarios on the same connections, each operation's kind drawn by weight
/// (`--mix pull:70,push:20,delete:10`), the draw a function of the seed and the operation number, so two
/// runs send the same sequence. Each component numbers its own operations; per component the mix keeps
/// operations, failures and an operation-latency histogram, reported beside the run's totals.
final class MixScenario: BenchScenario {
    let name = "mix"
    /// Short names of the example, and any plain scenario by its own name.
    static let aliases = ["pull": "blob-get", "push": "push-monolithic", "delete": "delete-manifest", "head": "manifest-head"]
    static let defaultWeights = "pull:70,push:20,delete:10"

    struct Component {
        let name: String
        let scenario: BenchScenario
        let weight: Int
        var issued = 0
        var operations = 0
        var failed = 0
        var requests = 0
        var latency = LatencyHistogram()
    }

    private(set) var components: [Component]
    private let totalWeight: Int
    private let seed: UInt64
    /// Operations in flight: component, its own operation number, start.
    private var inFlight: [Int: (component: Int, operation: Int, started: UInt64)] = [:]

    init(components: [(name: String, scenario: BenchScenario, weight: Int)], seed: UInt64) {
        self.components = components.map { Component(name: $0.name, scenario: $0.scenario, weight: $0.weight) }
        totalWeight = components.reduce(0) { $0 + $1.weight }
        self.seed = seed
    }

    /// `name:weight,...` to (scenario name, weight) pairs; nil with the reason when it is not one.
    static func parse(_ text: String, known: [String]) -> Result<[(String, Int)], MixError> {
        var pairs: [(String, Int)] = []
        for part in text.split(separator: ",") {
            let fields = part.split(separator: ":")
            guard fields.count == 2, let weight = Int(fields[1]), weight > 0 else { return .failure(MixError(text: "\(part): not name:weight")) }
            let name = aliases[String(fields[0])] ?? String(fields[0])
            guard known.contains(name) else { return .failure(MixError(text: "\(fields[0]): no such scenario in a mix")) }
            pairs.append((name, weight))
        }
        return pairs.isEmpty ? .failure(MixError(text: "empty")) : .success(pairs)
    }

    struct MixError: Error { let text: String }

    func seeding() -> BenchScenario? {
        let seedings = components.compactMap { $0.scenario.seeding() }
        return seedings.isEmpty ? nil : SeedingSequence(seedings)
    }

    /// The component operation `operation` belongs to: a weighted draw from SplitMix64 of the seed and the number.
    func component(of operation: Int) -> Int {
        var state = seed &+ 0x6D69_7800 &+ UInt64(operation) &* 0x9E37_79B9_7F4A_7C15
        var draw = Int(SyntheticContent.next(&state) % UInt64(totalWeight))
        for (index, component) in components.enumerated() {
            if draw < component.weight { return index }
            draw -= component.weight
        }
        return components.count - 1
    }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        if step == 0 {
            let index = component(of: operation)
            let own = components[index].issued
            guard let request = components[index].scenario.request(operation: own, step: 0, after: nil) else { return nil }
            components[index].issued += 1
            components[index].requests += 1
            inFlight[operation] = (index, own, uv_hrtime())
            return request
        }
        guard let flight = inFlight[operation] else { return nil }
        let (index, own, started) = (flight.component, flight.operation, flight.started)
        if let next = components[index].scenario.request(operation: own, step: step, after: previous) {
            components[index].requests += 1
            return next
        }
        components[index].operations += 1
        components[index].latency.record(uv_hrtime() - started)
        inFlight[operation] = nil
        return nil
    }

    func failed(operation: Int) {
        guard let flight = inFlight.removeValue(forKey: operation) else { return }
        let (index, own) = (flight.component, flight.operation)
        components[index].failed += 1
        components[index].scenario.failed(operation: own)
    }

    var counters: [(String, Int)] { components.flatMap { component in
        [("\(component.name)_operations", component.operations), ("\(component.name)_failed", component.failed)]
    } }

    /// Per component, as a report of its own (`mix/<name>`) over the run's time.
    func componentReports(elapsed: UInt64) -> [ScenarioReport] {
        components.map { component in
            var result = RunResult()
            result.requests = component.requests
            result.operations = component.operations
            result.failedOperations = component.failed
            result.latency = component.latency
            result.elapsedNanoseconds = elapsed
            return ScenarioReport(name: "mix/\(component.name)", seedRequests: 0, result: result)
        }
    }
}

/// Seedings run one after another as one: the mix's components' preparations.
final class SeedingSequence: BenchScenario {
    let name = "seed"
    private let parts: [BenchScenario]

    init(_ parts: [BenchScenario]) {
        self.parts = parts
    }

    var operationLimit: Int? { parts.reduce(0) { $0 + ($1.operationLimit ?? 1) } }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        var rest = operation
        for part in parts {
            let count = part.operationLimit ?? 1
            if rest < count { return part.request(operation: rest, step: step, after: previous) }
            rest -= count
        }
        return nil
    }
}
