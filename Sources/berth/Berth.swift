import ArgumentParser
import BerthHTTP
import BerthRegistry
import BerthStorage
import CBerthShims
import Foundation

@main
struct Berth: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "A container image registry: Docker Registry HTTP API V2 and OCI Distribution 1.1.",
        subcommands: [Serve.self, GarbageCollect.self, Version.self])
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Berth's version.")

    func run() {
        print("berth \(Berth.version)")
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the registry API.")

    @Option(name: .long, help: "YAML configuration file (registry:2's config.yml is accepted).")
    var config: String?

    @Option(name: .long, help: "Listen address host:port (http.addr).")
    var addr: String?

    @Option(name: .long, help: "Data directory (storage.filesystem.rootdirectory).")
    var root: String?

    @Option(name: .long, help: "debug, info, warn or error (log.level).")
    var logLevel: String?

    @Option(name: .long, help: "Worker processes sharing the port (workers; default: the number of cores).")
    var workers: String?

    func run() throws {
        var settings: Configuration
        do {
            let (loaded, warnings) = try Configuration.load(file: config, environment: ProcessInfo.processInfo.environment)
            settings = loaded
            warnings.forEach { Log.warn($0) }
        } catch {
            FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let addr { settings.httpAddr = addr }
        if let root { settings.rootDirectory = root }
        if let logLevel {
            guard LogLevel(name: logLevel) != nil else {
                FileHandle.standardError.write(Data("berth: --log-level: \(logLevel) is not debug, info, warn or error\n".utf8))
                throw ExitCode(2)
            }
            settings.logLevel = logLevel
        }
        if let workers {
            do { settings.workers = try Configuration.count(workers, "--workers", "command line") } catch {
                FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        Log.level = LogLevel(name: settings.logLevel) ?? .info
        let limits: HTTPLimits
        do { limits = try Self.httpLimits(ProcessInfo.processInfo.environment) } catch {
            FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let worker = WorkerSupervisor.workerIndex()
        if settings.workers > 1 && worker == nil {
            try supervise(settings)
        } else {
            try serve(settings, limits: limits, worker: worker)
        }
    }

    /// The HTTP layer's settings that have no configuration key yet, read from the environment in this one
    /// place: BERTH_HTTP_MAXCONNSPERCLIENT (connections one client address may hold open in a worker; 0, the
    /// default, is no limit) and BERTH_HTTP_PROGRESSWINDOW (a duration, 120s by default, in which a peer must
    /// move 64 KiB, or what is left of a smaller body; shortened by tests).
    static func httpLimits(_ environment: [String: String]) throws -> HTTPLimits {
        var limits = HTTPLimits()
        if let text = environment["BERTH_HTTP_MAXCONNSPERCLIENT"] {
            guard let count = Int(text), count >= 0, count <= 1_000_000 else {
                throw Configuration.Invalid(description: "environment: BERTH_HTTP_MAXCONNSPERCLIENT: \(text) is not a count from 0 to 1000000")
            }
            limits.maxConnectionsPerClient = count
        }
        if let text = environment["BERTH_HTTP_PROGRESSWINDOW"] {
            let seconds = try Configuration.duration(text, "BERTH_HTTP_PROGRESSWINDOW", "environment")
            guard seconds >= 0.001, seconds <= 86_400 else {
                throw Configuration.Invalid(description: "environment: BERTH_HTTP_PROGRESSWINDOW: \(text) is not from 1ms to 24h")
            }
            limits.progress.windowMilliseconds = UInt64(seconds * 1000)
        }
        return limits
    }

    /// Checks the storage once, so a bad root fails here with one message, then runs the workers.
    private func supervise(_ settings: Configuration) throws {
        _ = try openStore(settings)
        let supervisor = WorkerSupervisor(loop: EventLoop(), count: settings.workers, arguments: CommandLine.arguments)
        Log.info("berth \(Berth.version) starting \(settings.workers) workers on \(settings.httpAddr)")
        supervisor.run()
        Log.info("stopped")
        if supervisor.exitStatus != 0 { throw ExitCode(supervisor.exitStatus) }
    }

    private func openStore(_ settings: Configuration) throws -> RegistryStore {
        do {
            return try RegistryStore(rootDirectory: settings.rootDirectory, fsync: settings.fsync, directWrites: settings.directWrites)
        } catch {
            Log.error("storage.filesystem.rootdirectory \(settings.rootDirectory) is not usable: \(error)")
            throw ExitCode(1)
        }
    }

    private func serve(_ settings: Configuration, limits: HTTPLimits, worker: Int?) throws {
        // Blocking sendfile to slow clients and uploads share the pool; libuv's default of 4 is too few.
        setenv("UV_THREADPOOL_SIZE", "16", 0)
        berth_limit_malloc_arenas(2)
        let store = try openStore(settings)
        var options = RegistryOptions()
        options.deleteEnabled = settings.deleteEnabled
        options.gcIntervalSeconds = settings.gcInterval
        options.gcDelaySeconds = settings.gcDelay
        options.uploadMaxAgeSeconds = settings.uploadMaxAgeSeconds
        if !settings.krakenNamespaces.isEmpty { options.krakenNamespaces = settings.krakenNamespaces }
        options.krakenFetchTimeoutSeconds = settings.krakenFetchTimeout
        options.mirror = settings.mirrorOptions
        if let worker {
            options.workerIndex = worker
            options.metricsDirectory = getenv(WorkerSupervisor.metricsVariable).map { String(cString: $0) }
        }
        let loop = EventLoop()
        let registry: Registry
        do {
            registry = try Registry(store: store, options: options, loop: loop)
        } catch {
            Log.error("upstream registries: \(error)")
            throw ExitCode(1)
        }
        let server = HTTPServer(loop: loop, handler: registry, limits: limits)
        server.defaultHeaders = Registry.defaultHeaders
        registry.openConnections = { [unowned server] in server.openConnections }
        if let worker { server.defaultHeaders.append(("Berth-Worker", String(worker))) }
        do {
            try server.listen(on: settings.httpAddr, reusePort: worker != nil)
        } catch {
            Log.error("\(error)")
            throw ExitCode(1)
        }
        let maintenance = registry.startMaintenance()
        server.onDrained = { maintenance.forEach { $0.stop() } }
        Log.info("berth \(Berth.version)\(worker.map { " worker \($0)" } ?? "") serving \(store.base) on \(settings.httpAddr)")
        berth_release_startup_code()
        loop.run()
        Log.info("stopped")
    }
}
