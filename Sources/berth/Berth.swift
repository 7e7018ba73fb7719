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
        subcommands: [Serve.self, GarbageCollect.self, Fsck.self, Version.self])

    /// argument-parser's own `main`, except that a usage mistake exits 2 (as a bad configuration does) instead of 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}

extension Berth {
    /// One `berth: ` line per line of the error, so that every refused key stands on its own line.
    static func printError(_ error: Any) {
        let lines = "\(error)".split(separator: "\n").map { "berth: \($0)\n" }
        FileHandle.standardError.write(Data(lines.joined().utf8))
    }
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
            Berth.printError(error)
            throw ExitCode(2)
        }
        if let addr { settings.httpAddr = addr }
        if let root { settings.rootDirectory = root }
        if let logLevel {
            guard LogLevel(name: logLevel) != nil else {
                Berth.printError("--log-level: \(logLevel) is not debug, info, warn or error")
                throw ExitCode(2)
            }
            settings.logLevel = logLevel
        }
        if let workers {
            do { settings.workers = try Configuration.count(workers, "--workers", "command line") } catch {
                Berth.printError(error)
                throw ExitCode(2)
            }
        }
        Log.level = LogLevel(name: settings.logLevel) ?? .info
        let worker = WorkerSupervisor.workerIndex()
        if settings.workers > 1 && worker == nil {
            try supervise(settings)
        } else {
            try serve(settings, worker: worker)
        }
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
            let store = try RegistryStore(rootDirectory: settings.rootDirectory, fsync: settings.fsync, directWrites: settings.directWrites)
            do { try store.checkReadWrite() } catch let error as StorageError where error.isOutOfSpace {
                // What is stored can still be served: start, and let each write answer 507 until there is room.
                Log.warn("storage.filesystem.rootdirectory \(settings.rootDirectory) is full: serving reads, refusing writes (507)")
            }
            return store
        } catch {
            Log.error("storage.filesystem.rootdirectory \(settings.rootDirectory) is not usable: \(error)")
            throw ExitCode(1)
        }
    }

    private func serve(_ settings: Configuration, worker: Int?) throws {
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
        let server = HTTPServer(loop: loop, handler: registry)
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
        WorkerSupervisor.signalReady()
        berth_release_startup_code()
        loop.run()
        Log.info("stopped")
    }
}
