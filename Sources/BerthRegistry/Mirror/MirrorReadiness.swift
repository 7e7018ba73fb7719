import BerthHTTP
import BerthUpstream
import Glibc

/// Whether the mirror's upstreams answer: `GET /v2/` of each (with its credentials) at start, then again
/// every `recheckSeconds`, or every `retrySeconds` while one fails; every exchange with an upstream updates
/// its health too (`RegistryClient.health`). `/readyz` reports it; `/healthz` stays about this node's
/// storage. Each worker process checks and answers for itself.
extension Mirror {
    static let recheckSeconds: UInt64 = 30
    static let retrySeconds: UInt64 = 5

    /// Logs each upstream by name and starts the checks. `announce` (one worker of several) logs the
    /// upstreams and how they change; the other workers check quietly.
    func startChecks(loop: EventLoop, announce: Bool) -> RepeatingTimer {
        for (index, upstream) in upstreams.enumerated() {
            upstream.registry.logsHealthChanges = announce
            if announce {
                let namespaces = upstream.namespaces.sorted().joined(separator: ", ")
                Log.info("mirror: upstream \(upstream.host) at \(upstream.registry.baseURL)\(index == 0 ? " (default)" : ""), chosen by ns= \(namespaces)"
                         + (answersEveryNamespace ? " or any other" : "") + ", cached as \(upstream.localPrefix.isEmpty ? "<name>" : upstream.localPrefix + "<name>")")
            }
        }
        checkDue(loop: loop)
        return loop.repeating(every: Self.retrySeconds * 1000) { [weak self] in self?.checkDue(loop: loop) }
    }

    /// Checks each upstream not being checked whose health is not known to be good, or whose last check is old.
    private func checkDue(loop: EventLoop) {
        for (index, upstream) in upstreams.enumerated() where !checking.contains(index) {
            let age = loop.now - lastChecked[index]
            guard upstream.registry.health.state != .answering || lastChecked[index] == 0 || age >= Self.recheckSeconds * 1000 else { continue }
            checking.insert(index)
            lastChecked[index] = loop.now
            // The fetch records the outcome in the upstream's health, as every fetch does.
            upstream.registry.fetch("GET", "/v2/", handler: UpstreamBodyCollector(limit: 64 << 10) { [weak self] _ in
                self?.checking.remove(index)
            })
        }
    }

    /// `GET /readyz`: 200 when every upstream answered its last exchange, else 503; the body lists each
    /// upstream by its registry host, its state and when it last failed, and why (a kind, never an address).
    func readiness() -> HTTPResponse {
        var ready = true
        let entries = upstreams.map { upstream -> String in
            let health = upstream.registry.health
            let state: String
            var reason: String?
            switch health.state {
            case .unchecked: state = "unchecked"; ready = false
            case .answering: state = "answering"
            case .failing(let why): state = "failing"; reason = why; ready = false
            }
            let lastFailure = health.lastFailure.map {
                "{\"at\":\(JSONString.quoted(Self.rfc3339($0.seconds))),\"reason\":\(JSONString.quoted($0.reason))}"
            } ?? "null"
            return "{\"name\":\(JSONString.quoted(upstream.host)),\"state\":\"\(state)\",\"reason\":\(reason.map(JSONString.quoted) ?? "null"),\"lastFailure\":\(lastFailure)}"
        }
        let body = "{\"status\":\"\(ready ? "ready" : "unready")\",\"upstreams\":[\(entries.joined(separator: ","))]}\n"
        return HTTPResponse(status: ready ? 200 : 503, headers: [("Content-Type", "application/json; charset=utf-8")], text: body)
    }

    static func rfc3339(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))Z"
    }
}
