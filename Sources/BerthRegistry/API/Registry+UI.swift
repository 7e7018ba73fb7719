import BerthHTTP
import BerthStorage
import BerthUpstream

/// What the web UI (module BerthUI, which sits above this one) may read and do: the store, the catalog's
/// cached names, the metrics as `/metrics` answers them, the mirror's upstreams and the API's own delete.
/// The UI registers itself with `ui` and its path prefix; the registry hands it the requests under that
/// prefix, behind the same gate as `/v2/`.
public struct UpstreamStatus {
    /// The registry host the upstream is chosen by (`ns=`), as `/readyz` names it.
    public let host: String
    public let health: UpstreamHealth
}

extension Registry {
    public var storage: RegistryStore { store }
    public var deletesEnabled: Bool { options.deleteEnabled }
    public var isMirror: Bool { mirror != nil }
    public var upstreamStatuses: [UpstreamStatus] {
        mirror?.upstreams.map { UpstreamStatus(host: $0.host, health: $0.registry.health) } ?? []
    }

    /// The repository names, sorted, as `_catalog` lists them (walked on the pool, cached while the marker stands).
    public func repositoryNames(_ completion: @escaping ([String]) -> Void) {
        catalog.names(loop: loop, store: store, completion)
    }

    /// The exposition `/metrics` answers: this worker's figures summed with the other workers' snapshots
    /// (read from the metrics directory, a tmpfs, as `/metrics` always has on the loop).
    public func aggregatedMetrics() -> String {
        let own = ownMetrics()
        return options.metricsDirectory == nil ? own : Self.mergedMetrics([own] + otherWorkersMetrics())
    }

    /// This worker's own exposition (loop only).
    public func ownMetrics() -> String {
        metrics.exposition(openConnections: openConnections())
    }

    /// Reads the other workers' metric snapshots: a function that can run on the pool.
    public var otherWorkersMetrics: () -> [String] {
        let directory = options.metricsDirectory, worker = options.workerIndex
        return { directory.map { MetricsAggregation.snapshots(directory: $0, except: worker) } ?? [] }
    }

    /// The most pulled manifests (`name:tag`, `name@digest`) since start, summed over the workers (as the metrics
    /// are: the others' counts at most a second old), the most first. `snapshots` reads on the pool; `merge` is pure.
    public func pullCounts() -> (own: String, others: () -> [String]) {
        let directory = options.metricsDirectory, worker = options.workerIndex
        return (metrics.pulls.snapshot, { directory.map { MetricsAggregation.snapshots(directory: $0, except: worker, suffix: ".pulls") } ?? [] })
    }

    public static func mostPulled(_ snapshots: [String]) -> [(reference: String, count: Int)] {
        PullCounts.merged(snapshots)
    }

    /// Sums expositions as `/metrics` does (any thread: pure).
    public static func mergedMetrics(_ expositions: [String]) -> String {
        MetricsAggregation.merge(expositions)
    }

    /// `/ui` and `/ui/...`, not `/uix`.
    static func lies(_ path: Substring, under prefix: String) -> Bool {
        guard path.hasBytePrefix(prefix) else { return false }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }

    /// `DELETE /v2/<name>/manifests/<reference>` without the HTTP: the same checks, the same store calls.
    /// The failure is a `RegistryError` (its `message` and `status` are for the page) or a concealed one.
    public func deleteManifest(_ name: RepositoryName, reference: String, _ completion: @escaping (Result<Void, RegistryError>) -> Void) {
        removeManifest(name, reference) { result in
            completion(result.mapError { $0 as? RegistryError ?? .concealing($0, "delete \(name):\(reference)") })
        }
    }
}
