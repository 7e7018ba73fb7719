import ArgumentParser
import BerthHTTP
import BerthRegistry
import BerthStorage
import Foundation

@main
struct Berth: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "A container image registry: Docker Registry HTTP API V2 and OCI Distribution 1.1.",
        subcommands: [Serve.self, Version.self])
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
        Log.level = LogLevel(name: settings.logLevel) ?? .info
        try serve(settings)
    }

    private func serve(_ settings: Configuration) throws {
        // Blocking sendfile to slow clients and uploads share the pool; libuv's default of 4 is too few.
        setenv("UV_THREADPOOL_SIZE", "16", 0)
        let store: RegistryStore
        do {
            store = try RegistryStore(rootDirectory: settings.rootDirectory, fsync: settings.fsync)
        } catch {
            Log.error("storage.filesystem.rootdirectory \(settings.rootDirectory) is not usable: \(error)")
            throw ExitCode(1)
        }
        var options = RegistryOptions()
        options.deleteEnabled = settings.deleteEnabled
        let loop = EventLoop()
        let registry = Registry(store: store, options: options, loop: loop)
        let server = HTTPServer(loop: loop, handler: registry)
        server.defaultHeaders = Registry.defaultHeaders
        do {
            try server.listen(on: settings.httpAddr)
        } catch {
            Log.error("\(error)")
            throw ExitCode(1)
        }
        Log.info("berth \(Berth.version) serving \(store.base) on \(settings.httpAddr)")
        loop.run()
        Log.info("stopped")
    }
}
