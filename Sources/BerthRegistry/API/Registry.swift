import BerthHTTP
import BerthStorage
import BerthUpstream
import Foundation

/// What the registry API needs to know from the configuration.
public struct RegistryOptions {
    /// The default of `kraken.fetchtimeout`.
    public static let defaultKrakenFetchTimeoutSeconds: Double = 300
    /// The default of `proxy.maxdownloads`: 16 x (two threads and an 8 MiB ring) per worker.
    public static let defaultMaxDownloadsPerWorker = 16

    public var deleteEnabled = false
    public var maxManifestBytes = 4 * 1024 * 1024
    /// Kraken namespaces served and their backends, first match wins; nil serves every namespace locally.
    public var krakenNamespaces: [KrakenNamespaceOptions]?
    /// How long a Kraken GET waits for a backend to start sending a blob.
    public var krakenFetchTimeoutSeconds = RegistryOptions.defaultKrakenFetchTimeoutSeconds
    /// Blob downloads from upstreams (mirror and Kraken backends) a worker leads at once; more wait their turn.
    public var maxDownloadsPerWorker = RegistryOptions.defaultMaxDownloadsPerWorker
    /// With several worker processes: where each publishes its metrics, and which one this is.
    public var metricsDirectory: String?
    public var workerIndex = 0
    /// Online garbage collection every this many seconds; 0 turns it off.
    public var gcIntervalSeconds: Double = 0
    public var gcDelaySeconds = GarbageCollector.Options.defaultOnlineDelaySeconds
    public var uploadMaxAgeSeconds = GarbageCollector.Options.defaultUploadMaxAgeSeconds
    /// Set, the registry is a pull-through mirror of these upstreams, and takes no pushes.
    public var mirror: MirrorOptions?
    /// The egress proxy of every upstream client (the mirror's and Kraken's registry backends).
    public var egress = EgressProxySettings()
    /// Set, every request but /healthz, /readyz and /metrics needs the credentials of a user of the file.
    public var htpasswd: HtpasswdOptions?
    /// Set, every such request needs a Bearer token of the issuer that grants the route's access.
    public var tokenAuth: TokenAuthOptions?
    /// Set, the registry serves the built-in token issuer's endpoint, and verifies its tokens (`tokenAuth` follows).
    public var builtinIssuer: BuiltinIssuerOptions?

    public init() {}
}

/// The Docker Registry HTTP API V2 / OCI Distribution API on top of the HTTP server and the store.
/// Loop-confined: handlers run on the loop; disk work that can block goes to the pool.
public final class Registry: HTTPHandler {
    let store: RegistryStore
    let options: RegistryOptions
    let loop: EventLoop
    let metrics = Metrics()
    let manifestCache = ManifestCache()
    let openBlobs = OpenBlobCache()
    let catalog = Catalog()
    /// Layer links already read, by the identity of their file (see `isLinked`).
    var layerLinks: [LayerLinkKey: KnownLink] = [:]
    /// Set up once from `options.krakenNamespaces`.
    let krakenNamespaces: [KrakenNamespace]?
    /// Reports the server's open connections for `/metrics`.
    public var openConnections: () -> Int = { 0 }
    let mirror: Mirror?
    lazy var downloads = BlobDownloads(loop: loop, maxLed: options.maxDownloadsPerWorker)
    /// auth.token's or auth.htpasswd's (never both: registry:2 takes one scheme).
    let gate: AccessGate?
    /// auth.builtin's token endpoint; its tokens pass `gate` (a TokenGate).
    let issuer: TokenIssuer?
    /// The web UI and the path prefix it serves (`ui.path`, `/ui`), set by `berth` when `ui.enabled`.
    /// Unchecked: set once by `berth` before the loop runs, read by every request.
    @exclusivity(unchecked) public var ui: (prefix: String, handle: (HTTPExchange, UIViewer) -> Void)?
    /// auth.builtin's Basic login for the UI's browsers.
    let uiLogin: UILoginGate?

    /// Throws when the htpasswd file cannot be read (`HtpasswdFile.Failure`), or the mirror's upstreams cannot be
    /// set up (a URL that is not http(s), an unreadable CA file).
    public init(store: RegistryStore, options: RegistryOptions, loop: EventLoop) throws {
        self.store = store
        var options = options
        if let builtin = options.builtinIssuer {
            let issuer = try TokenIssuer(options: builtin, loop: loop, metrics: metrics)
            options.tokenAuth = issuer.tokenAuth
            self.issuer = issuer
            uiLogin = UILoginGate(issuer: issuer)
        } else {
            issuer = nil
            uiLogin = nil
        }
        self.options = options
        self.loop = loop
        if let tokenAuth = options.tokenAuth {
            gate = TokenGate(options: tokenAuth, metrics: metrics)
        } else if let htpasswd = options.htpasswd {
            gate = try HtpasswdGate(options: htpasswd, loop: loop, metrics: metrics)
        } else {
            gate = nil
        }
        krakenNamespaces = try options.krakenNamespaces?.map { try KrakenNamespace($0, loop: loop, egress: options.egress) }
        mirror = try options.mirror.map { try Mirror(options: $0, loop: loop, egress: options.egress) }
        let clients = upstreamClients
        metrics.proxiedConnections = { clients.reduce(0) { $0 + $1.proxiedConnectionsOpened } }
        metrics.downloads = { [unowned self] in (downloads.ledCount, downloads.waitingCount) }
        (gate as? HtpasswdGate)?.resume = { [unowned self] in self.handle($0) }
    }

    /// Reads the htpasswd file again (SIGHUP), though the gate notices a change within a second by itself.
    public func reloadCredentials() {
        gate?.reload()
        issuer?.reload()
    }

    /// Headers on every response (OCI dist-spec: clients check the API version on `/v2/`).
    public static let defaultHeaders: [(name: String, value: String)] = [
        ("Docker-Distribution-Api-Version", "registry/2.0"),
    ]

    public func handle(_ exchange: HTTPExchange) {
        let request = exchange.request
        // Before any gate: a client asks here for the token the gate wants.
        if let issuer, request.path == issuer.options.path { return issuer.handle(exchange) }
        // A registry request's path starts `/v2`, which none of these does: two bytes looked at rather than
        // three Substring comparisons and a prefix (a few hundred instructions a request).
        if !Self.isRegistryPath(request.path) {
            switch request.path {
            case "/healthz":
                exchange.label = "healthz"
                return checkHealth(exchange)
            case "/readyz":
                exchange.label = "readyz"
                // A plain registry depends on nothing but its storage, which /healthz reports.
                return exchange.respond(mirror?.readiness() ?? HTTPResponse(status: 200, headers: [("Content-Type", "application/json; charset=utf-8")], text: "{\"status\":\"ready\"}\n"))
            case "/metrics":
                exchange.label = "metrics"
                return exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], text: aggregatedMetrics()))
            default:
                // registry:2 leaves its debug server (health, metrics) open; Kraken's namespaces are served as /v2/ is.
                if request.path.hasBytePrefix("/namespace/") {
                    if let gate, !gate.admits(exchange, pulling: nil, needing: { AccessRequirement.ofKraken(path: request.path, method: request.method) }) { return }
                    return handleKraken(exchange)
                }
            }
        }
        // The web UI (ui.enabled), behind the same gate: one nil check for every other request.
        if let ui, Self.lies(request.path, under: ui.prefix) {
            if let uiLogin, request.header("Authorization").flatMap(TokenGate.bearerToken) == nil { return uiLogin.admit(exchange, serve: ui.handle) }
            if let gate, !gate.admits(exchange, pulling: nil, needing: { AccessRequirement.ofUI }) { return }
            return ui.handle(exchange, .unrestricted)
        }
        switch Route.parse(request.path) {
        case .failure(.invalidName(let name)):
            exchange.fail(RegistryError(.nameInvalid, "invalid repository name: \(name)"))
        case .failure(.noRoute):
            exchange.fail(RegistryError(.routeUnknown, "no endpoint for \(request.method.name) \(request.path)"))
        case .success(let route):
            exchange.label = route.label
            // After routing, as registry:2: a path that is no route is a 404 with or without credentials.
            if let gate, !gate.admits(exchange, pulling: AccessRequirement.pullOnly(route, method: request.method, query: request.query),
                                      needing: { AccessRequirement.of(route, method: request.method, query: request.query) }) { return }
            dispatch(route, exchange)
        }
    }

    /// `/v2` and what lies under it.
    static func isRegistryPath(_ path: Substring) -> Bool {
        path.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.count >= 3 && bytes[0] == UInt8(ascii: "/") && bytes[1] == UInt8(ascii: "v") && bytes[2] == UInt8(ascii: "2")
        } ?? path.hasPrefix("/v2")
    }

    private func dispatch(_ route: Route, _ exchange: HTTPExchange) {
        if let mirror { dispatchMirrored(route, exchange, mirror) } else { dispatchLocal(route, exchange) }
    }

    private func dispatchLocal(_ route: Route, _ exchange: HTTPExchange) {
        let method = exchange.request.method
        switch (route, method) {
        case (.base, .get), (.base, .head):
            exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", "application/json; charset=utf-8")], text: "{}"))
        case (.blob(let name, let digest), .get), (.blob(let name, let digest), .head):
            getBlob(name, digest, exchange)
        case (.blob(let name, let digest), .delete):
            deleteBlob(name, digest, exchange)
        case (.uploads(let name), .post):
            startUpload(name, exchange)
        case (.upload(let name, let id), .patch):
            patchUpload(name, id, exchange)
        case (.upload(let name, let id), .put):
            completeUpload(name, id, exchange)
        case (.upload(let name, let id), .get):
            uploadStatus(name, id, exchange)
        case (.upload(let name, let id), .delete):
            cancelUpload(name, id, exchange)
        case (.manifest(let name, let reference), .get), (.manifest(let name, let reference), .head):
            getManifest(name, reference, exchange)
        case (.manifest(let name, let reference), .put):
            putManifest(name, reference, exchange)
        case (.manifest(let name, let reference), .delete):
            deleteManifest(name, reference, exchange)
        case (.tags(let name), .get):
            listTags(name, exchange)
        case (.referrers(let name, let digest), .get):
            listReferrers(name, digest, exchange)
        case (.catalog, .get):
            listRepositories(exchange)
        default:
            exchange.fail(RegistryError(.unsupported, "\(method.name) is not allowed on \(exchange.request.path)"))
        }
    }

    /// A mirror serves what its upstreams have: reads go through the cache, writes are refused.
    private func dispatchMirrored(_ route: Route, _ exchange: HTTPExchange, _ mirror: Mirror) {
        let method = exchange.request.method
        switch (route, method) {
        case (.base, .get), (.base, .head), (.catalog, .get), (.referrers, .get):
            return dispatchLocal(route, exchange)
        case (.blob(let name, let digest), .get), (.blob(let name, let digest), .head):
            mirrorGetBlob(mirror, name, digest, exchange)
        case (.manifest(let name, let reference), .get), (.manifest(let name, let reference), .head):
            mirrorGetManifest(mirror, name, reference, exchange)
        case (.tags(let name), .get):
            mirrorListTags(mirror, name, exchange)
        case (_, .get), (_, .head):
            exchange.fail(RegistryError(.unsupported, "\(method.name) is not allowed on \(exchange.request.path)"))
        default:
            // The configured URL may carry credentials: the base URL the upstream keeps does not.
            let upstream = mirror.upstreams.first.map { "\($0.registry.baseURL)" } ?? "its upstream"
            exchange.fail(RegistryError(.mirrorTakesNoPushes, "\(method.name) \(exchange.request.path): this registry is a pull-through mirror of \(upstream); push to the upstream registry instead"))
        }
    }

    /// Removes what a process that died left retired or half-written, and starts the closing of blob files left unused,
    /// periodic online garbage collection (a lock on disk keeps it to one process at a time) and, with several
    /// workers, the publishing of this worker's metrics every second.
    public func startMaintenance() -> [RepeatingTimer] {
        removeRetired()
        // One walk of the whole root is enough, whichever worker makes it.
        if options.workerIndex == 0 { loop.offload({ [store] in _ = store.removeStaleTemporaries() }, then: {}) }
        var timers: [RepeatingTimer] = [loop.repeating(every: 10_000) { [weak self] in self?.openBlobs.sweep() }]
        // A bounded mirror cache is kept within its bound by the collector, every minute unless gc.interval says otherwise.
        let interval = options.gcIntervalSeconds > 0 ? options.gcIntervalSeconds : (options.mirror?.cacheMaxBytes != nil ? 60 : 0)
        if interval > 0 {
            timers.append(loop.repeating(every: UInt64(interval * 1000)) { [weak self] in self?.collectGarbage() })
        }
        if let mirror { timers.append(mirror.startChecks(loop: loop, announce: options.workerIndex == 0)) }
        if let directory = options.metricsDirectory {
            let worker = options.workerIndex
            var publishedPulls = -1
            timers.append(loop.repeating(every: 1000) { [weak self] in
                guard let self else { return }
                MetricsAggregation.publish(metrics.exposition(openConnections: openConnections()), directory: directory, worker: worker)
                // The UI's "most pulled", summed over the workers as the metrics are (only when it moved).
                if metrics.pulls.generation != publishedPulls {
                    publishedPulls = metrics.pulls.generation
                    MetricsAggregation.publish(metrics.pulls.snapshot, directory: directory, worker: worker, suffix: ".pulls")
                }
            })
        }
        return timers
    }

    /// Closes the upstream connections of the mirror and of Kraken's registry backends, for a server that has
    /// drained: an idle keep-alive connection in their pools would hold the loop, and so the worker, until it
    /// timed out (30 s), which a reload or a stop need not wait for.
    public func closeUpstreams() {
        mirror?.upstreams.forEach { $0.registry.client.shutdown() }
        mirror?.fleet?.client.shutdown()
        for namespace in krakenNamespaces ?? [] {
            if case .registry(let registry, _) = namespace.backend { registry.client.shutdown() }
        }
    }

    /// Every upstream client of the process, once each (the mirror's upstreams share one).
    var upstreamClients: [UpstreamClient] {
        var clients = (mirror?.upstreams.map(\.registry.client) ?? []).prefix(1).map { $0 }
        for namespace in krakenNamespaces ?? [] {
            if case .registry(let registry, _) = namespace.backend { clients.append(registry.client) }
        }
        return clients
    }

    /// Removes what committed uploads left behind, on the pool: after the answer, since it can wait on the disk.
    func removeRetired() {
        loop.offload({ [store] in store.removeRetired() }, then: {})
    }

    private var collecting = false
    /// When this process's collector next walks the whole root for stale temporary files (loop milliseconds).
    private var nextTemporarySweep: UInt64 = 0

    func collectGarbage() {
        guard !collecting else { return }
        collecting = true
        var gcOptions = GarbageCollector.Options()
        gcOptions.delaySeconds = options.gcDelaySeconds
        gcOptions.uploadMaxAgeSeconds = options.uploadMaxAgeSeconds
        gcOptions.maxBlobBytes = options.mirror?.cacheMaxBytes
        gcOptions.removeStaleTemporaries = loop.now >= nextTemporarySweep
        if gcOptions.removeStaleTemporaries { nextTemporarySweep = loop.now + 3_600_000 }
        let collector = GarbageCollector(store: store, options: gcOptions)
        loop.offload({ Result { try collector.run() } }, then: { [self] result in
            collecting = false
            switch result {
            case .success(let report) where report.skipped:
                // Every worker's timer fires; the one holding the lock sweeps and says so, once.
                Log.debug("gc: another process is sweeping; skipped")
            case .success(let report):
                metrics.gcRuns += 1
                metrics.gcReclaimedBytes += report.reclaimedBytes
                metrics.mirrorEvictions += report.evictedBlobs.count
                metrics.mirrorEvictedBytes += report.evictedBlobs.reduce(0) { $0 + $1.size }
                Log.info("gc: \(report.markedBlobs) blobs kept, \(report.removedBlobs.count) removed (\(report.reclaimedBytes) bytes), \(report.removedUploads.count) stale uploads, \(report.removedRepositories.count) empty repositories, \(report.evictedBlobs.count) evicted")
            case .failure(let error):
                Log.error("gc: \(error)")
            }
        })
    }

    public func finished(_ exchange: HTTPExchange) {
        metrics.record(exchange)
    }

    /// `GET /healthz`: 200 `ok` when the storage root takes a write and gives it back; 200 `degraded` when it
    /// is full, since reads are still served and a load balancer must not take a node that serves them out of
    /// service (registry:2's 503 would); 503 when the storage fails otherwise.
    private func checkHealth(_ exchange: HTTPExchange) {
        loop.offload({ [store] in Result { try store.checkReadWrite() } }, then: { result in
            let json = [("Content-Type", "application/json; charset=utf-8")]
            switch result {
            case .success:
                exchange.respond(HTTPResponse(status: 200, headers: json, text: "{\"status\":\"ok\"}\n"))
            case .failure(let error as StorageError) where error.isOutOfSpace:
                exchange.respond(HTTPResponse(status: 200, headers: json, text: Self.storageFullHealth))
            case .failure(let error):
                // The cause names the root: the log has it.
                Log.error("health check: \(error)")
                exchange.fail(RegistryError(.unavailable, "the storage root does not take a write and give it back"))
            }
        })
    }

    static let storageFullHealth = "{\"status\":\"degraded\",\"storage\":\"full\",\"reads\":true,\"writes\":false}\n"

    public func protocolError(status: Int, message: String) -> HTTPResponse {
        RegistryError.refusal(status: status, message).response()
    }

    /// Runs blocking store work on the pool and answers on the loop; a thrown error becomes the answer.
    func onPool<Value>(_ exchange: HTTPExchange, _ work: @escaping () throws -> Value, then: @escaping (Value) -> Void) {
        loop.offload({ () -> Result<Value, Error> in Result { try work() } }, then: { result in
            switch result {
            case .success(let value): then(value)
            case .failure(let error): exchange.fail(error)
            }
        })
    }
}

extension HTTPExchange {
    /// Answers with the spec's error body; any other failure is logged and answered 500 (507 for a full
    /// disk) without its description, which names paths under the data root.
    func fail(_ error: Error, headers: [(name: String, value: String)] = []) {
        let answer = error as? RegistryError ?? .concealing(error, "\(request.method.name) \(request.path)")
        respond(answer.response(headers: headers))
    }
}
