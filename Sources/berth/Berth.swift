import ArgumentParser
import BerthBench
import BerthConfiguration
import BerthHTTP
import BerthSupervisor
import BerthRegistry
import BerthStorage
import BerthTLS
import BerthUI
import CBerthShims
import Foundation

@main
struct Berth: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "A container image registry: Docker Registry HTTP API V2 and OCI Distribution 1.1.",
        subcommands: [Serve.self, GarbageCollect.self, Fsck.self, Cache.self, StorageCommand.self, BenchCommand.self, Version.self])

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

    /// A command that cannot go on says why and exits with `status`: on stderr, or once `serve` has set up its
    /// log (`logged`), as a log line in the configured format.
    static func failure(_ reason: Any, status: Int32, logged: Bool = false) -> ExitCode {
        if logged { Log.error("\(reason)") } else { printError(reason) }
        return ExitCode(status)
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
        // Read once: the supervisor sets variables of its own for its workers, which a reload must not see.
        let environment = ProcessInfo.processInfo.environment
        let worker = WorkerSupervisor.workerIndex()
        var settings: Configuration
        var ignored: [String] = []
        do {
            // A worker loads the copy its supervisor checked, so that it runs what the supervisor accepted.
            let file = worker == nil ? config : (environment[Self.snapshotVariable] ?? config)
            let (loaded, warnings) = try load(file: file, environment: environment)
            settings = loaded
            ignored = warnings
        } catch {
            throw Berth.failure(error, status: 2)
        }
        Log.level = LogLevel(name: settings.logLevel) ?? .info
        Log.format = LogFormat(name: settings.logFormatter) ?? .text
        // In the configured format; the supervisor has said them once already.
        if worker == nil { ignored.forEach { Log.warn($0) } }
        if worker == nil {
            do { try settings.prepareAuthentication().forEach { Log.warn($0) } } catch {
                throw Berth.failure(error, status: 1, logged: true)
            }
        }
        if settings.workers > 1 && worker == nil {
            try supervise(settings, environment: environment)
        } else {
            try serve(settings, worker: worker)
        }
    }

    /// The configuration from `file`, then the environment, then the flags, which always win.
    func load(file: String?, environment: [String: String]) throws -> (Configuration, [String]) {
        let flags = ["--addr": addr, "--root": root, "--log-level": logLevel, "--workers": workers].compactMapValues { $0 }
        return try Configuration.load(file: file, environment: environment, flags: flags)
    }

    /// Checks the storage once, so a bad root fails here with one message, and binds the port (a busy one
    /// fails here too), then runs the workers on that socket.
    private func supervise(_ settings: Configuration, environment: [String: String]) throws {
        _ = try openStore(settings)
        _ = try Self.tlsContext(settings)
        // Every worker, of every generation, seals session tickets with the same keys (a reload may turn TLS on).
        setenv(TLSTicketKeys.variable, TLSTicketKeys.random(), 1)
        let sockets: [ListeningSocket]
        do { sockets = try ListeningSocket.open(settings.httpAddr, count: settings.workers) } catch {
            throw Berth.failure(error, status: 1, logged: true)
        }
        let supervisor = WorkerSupervisor(loop: EventLoop(), sockets: sockets, arguments: CommandLine.arguments) { number, directory in
            self.generation(number, directory: directory, environment: environment, running: settings)
        }
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
            throw Berth.failure("storage.filesystem.rootdirectory \(settings.rootDirectory) is not usable: \(error)", status: 1, logged: true)
        }
    }

    /// The TLS context of `http.tls`, or nil for plain HTTP: each process (every worker) loads its own.
    /// `reloading`: a failure is logged and the running context kept.
    static func tlsContext(_ settings: Configuration, reloading: Bool = false) throws -> TLSServerContext? {
        guard let tls = settings.tlsSettings else { return nil }
        do {
            let keys = getenv(TLSTicketKeys.variable).flatMap { TLSTicketKeys.decode(String(cString: $0)) }
            let context = try TLSServerContext(tls, ticketKeys: keys)
            if let note = context.note, !reloading, WorkerSupervisor.workerIndex() == nil { Log.warn(note) }
            return context
        } catch {
            if reloading { Log.error("SIGHUP: TLS not reloaded, the previous certificate keeps serving: \(error)") }
            throw Berth.failure("\(error)", status: 1, logged: !reloading)
        }
    }

    /// The web UI of `ui.enabled`, registered with the registry; its templates are read here, once.
    static func webUI(_ settings: Configuration, registry: Registry, loop: EventLoop) throws -> RegistryUI? {
        guard settings.uiEnabled else { return nil }
        var options = UIOptions()
        options.prefix = settings.uiPath
        options.version = Berth.version
        options.plainHTTP = settings.tlsSettings == nil
        do {
            return RegistryUI(registry: registry, loop: loop, options: options, templates: try PageTemplates.load())
        } catch {
            throw Berth.failure("ui.enabled: \(error)", status: 1, logged: true)
        }
    }

    private func serve(_ settings: Configuration, worker: Int?) throws {
        // Blocking sendfile to slow clients and uploads share the pool; libuv's default of 4 is too few.
        setenv("UV_THREADPOOL_SIZE", "16", 0)
        berth_limit_malloc_arenas(2)
        Log.worker = worker ?? 0
        let store = try openStore(settings)
        var options = settings.registryOptions
        if let worker {
            options.workerIndex = worker
            options.metricsDirectory = getenv(WorkerSupervisor.metricsVariable).map { String(cString: $0) }
        }
        let loop = EventLoop()
        let registry: Registry
        do {
            registry = try Registry(store: store, options: options, loop: loop)
        } catch let error as HtpasswdFile.Failure {
            throw Berth.failure(error, status: 1, logged: true)
        } catch let error as TokenKeyFile.Failure {
            throw Berth.failure(error, status: 1, logged: true)
        } catch {
            throw Berth.failure("upstream registries: \(error)", status: 1, logged: true)
        }
        let ui = try Self.webUI(settings, registry: registry, loop: loop)
        let server = HTTPServer(loop: loop, handler: registry, limits: settings.httpLimits)
        server.tlsContext = try Self.tlsContext(settings)
        server.defaultHeaders = Registry.defaultHeaders
        registry.openConnections = { [unowned server] in server.openConnections }
        // Which worker answered is for debugging (and the tests that follow a request to its process);
        // otherwise it tells anonymous clients about the deployment.
        if let worker, Log.level == .debug { server.defaultHeaders.append(("Berth-Worker", String(worker))) }
        do {
            try server.listen(on: (worker != nil ? ListeningSocket.inherited() : nil) ?? ListeningSocket.open(settings.httpAddr)[0])
        } catch {
            throw Berth.failure(error, status: 1, logged: true)
        }
        if worker == nil {
            server.onHangUp = {
                // The certificate and key are read again (a renewal); the rest of a configuration is the supervisor's.
                if server.tlsContext != nil, let replaced = try? Self.tlsContext(settings, reloading: true) {
                    server.tlsContext = replaced
                    Log.info("SIGHUP: TLS certificate and key read again; new connections use them")
                }
                registry.reloadCredentials()
                Log.warn("SIGHUP: a configuration is reloaded by the supervisor of workers: 2 or more; restart to apply one here"
                         + ((settings.htpasswdPath ?? settings.builtin.htpasswd) != nil ? " (the htpasswd file was read again)" : ""))
            }
        }
        let maintenance = registry.startMaintenance() + (ui.map { [$0.startHistory()] } ?? [])
        server.onDrained = {
            maintenance.forEach { $0.stop() }
            registry.closeUpstreams()
        }
        Log.info("berth \(Berth.version)\(worker.map { " worker \($0)" } ?? "") serving \(store.base) on \(settings.httpAddr)"
                 + (server.tlsContext != nil ? " (TLS)" : ""))
        WorkerSupervisor.signalReady()
        berth_release_startup_code()
        loop.run()
        Log.info("stopped")
    }
}
