import ArgumentParser
import BerthHTTP
import BerthStorage
import Foundation

/// `berth garbage-collect`: an offline mark and sweep with registry:2's rules and output.
struct GarbageCollect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "garbage-collect",
        abstract: "Remove blobs no manifest references (run while nothing pushes, or rely on online GC).")

    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Data directory (storage.filesystem.rootdirectory).")
    var root: String?

    @Flag(name: [.customShort("d"), .long], help: "Only print what would be removed.")
    var dryRun = false

    @Flag(name: [.customShort("m"), .long], help: "Also remove manifests that no tag points to.")
    var deleteUntagged = false

    func run() throws {
        var settings: Configuration
        do {
            settings = try Configuration.load(file: config, environment: ProcessInfo.processInfo.environment).0
        } catch {
            Berth.printError(error)
            throw ExitCode(2)
        }
        if let root { settings.rootDirectory = root }
        let store: RegistryStore
        do {
            store = try RegistryStore(rootDirectory: settings.rootDirectory, fsync: settings.fsync, directWrites: settings.directWrites)
        } catch {
            FileHandle.standardError.write(Data("berth: storage.filesystem.rootdirectory \(settings.rootDirectory): \(error)\n".utf8))
            throw ExitCode(1)
        }
        var options = GarbageCollector.Options()
        options.dryRun = dryRun
        options.deleteUntagged = deleteUntagged
        options.uploadMaxAgeSeconds = settings.uploadMaxAgeSeconds
        let report = try GarbageCollector(store: store, options: options).run { print($0) }
        print("\(report.markedBlobs) blobs marked, \(report.removedBlobs.count) blobs and \(report.removedManifests.count) manifests eligible for deletion, \(report.reclaimedBytes) bytes\(dryRun ? " (dry run: nothing removed)" : " removed")")
    }
}
