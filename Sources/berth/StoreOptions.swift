import ArgumentParser
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
        var settings: Configuration
        do {
            settings = try Configuration.load(file: config, environment: ProcessInfo.processInfo.environment).0
        } catch {
            Berth.printError(error)
            throw ExitCode(2)
        }
        if let root { settings.rootDirectory = root }
        var isDirectory: ObjCBool = false
        if existing && !(FileManager.default.fileExists(atPath: settings.rootDirectory, isDirectory: &isDirectory) && isDirectory.boolValue) {
            Berth.printError("storage.filesystem.rootdirectory \(settings.rootDirectory): no such directory")
            throw ExitCode(unusableRoot)
        }
        do {
            let store = try RegistryStore(rootDirectory: settings.rootDirectory, fsync: settings.fsync, directWrites: settings.directWrites)
            return (settings, store)
        } catch {
            Berth.printError("storage.filesystem.rootdirectory \(settings.rootDirectory): \(error)")
            throw ExitCode(unusableRoot)
        }
    }
}
