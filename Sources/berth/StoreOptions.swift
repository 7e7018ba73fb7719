import ArgumentParser
import BerthConfiguration
import BerthStorage
import Foundation

/// The options of the commands that work on a storage root offline (`garbage-collect`, `fsck`): the
/// configuration as `serve` reads it, and the root it names unless `--root` says otherwise.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Data directory (storage.filesystem.rootdirectory).")
    var root: String?

    /// The configuration (a bad one exits 2) and its store (an unusable root exits `unusableRoot`). A command
    /// that only checks asks for an existing root: opening a store creates its directories.
    func open(unusableRoot: Int32, existing: Bool = false) throws -> (Configuration, RegistryStore) {
        let settings: Configuration
        do {
            let flags = ["--root": root].compactMapValues { $0 }
            settings = try Configuration.load(file: config, environment: ProcessInfo.processInfo.environment, flags: flags).0
        } catch {
            throw Berth.failure(error, status: 2)
        }
        var isDirectory: ObjCBool = false
        if existing && !(FileManager.default.fileExists(atPath: settings.rootDirectory, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw Berth.failure("storage.filesystem.rootdirectory \(settings.rootDirectory): no such directory", status: unusableRoot)
        }
        do {
            let store = try RegistryStore(rootDirectory: settings.rootDirectory, fsync: settings.fsync, directWrites: settings.directWrites)
            return (settings, store)
        } catch {
            throw Berth.failure("storage.filesystem.rootdirectory \(settings.rootDirectory): \(error)", status: unusableRoot)
        }
    }
}
