import BerthConfiguration
import BerthHTTP
import BerthRegistry
import BerthSupervisor
import BerthTLS
import Foundation

/// What each generation of workers runs with (generation 0 at start, one more per SIGHUP): the file named by
/// --config read again, under the environment and flags of the start. The workers of a generation load a
/// copy of the bytes that the supervisor checked, so a worker restarted after a crash runs what its generation
/// runs, even if the file has been edited (or broken) since.
extension Serve {
    /// Set in a worker's environment: the copy of the configuration file it is to load.
    static let snapshotVariable = "BERTH_CONFIG_SNAPSHOT"

    /// nil, having logged why, when the file does not load or changes a key that only a restart can change.
    func generation(_ number: Int, directory: String, environment: [String: String], running: Configuration) -> WorkerGeneration? {
        let what = number == 0 ? "configuration" : "SIGHUP: configuration not reloaded, the previous one keeps serving"
        var copy: String?
        if let config {
            guard let bytes = FileManager.default.contents(atPath: config) else {
                Log.error("\(what): \(config): cannot read the configuration file")
                return nil
            }
            let path = "\(directory)/config-\(number).yml"
            // Owner-only, as the directory: the file may hold upstream passwords.
            guard FileManager.default.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
                Log.error("\(what): cannot copy \(config) to \(directory)")
                return nil
            }
            copy = path
        }
        let settings: Configuration
        do {
            let (loaded, warnings) = try load(file: copy ?? config, environment: environment)
            settings = loaded
            if number > 0 { warnings.forEach { Log.warn(named($0, copy)) } }
        } catch {
            copy.map { _ = unlink($0) }
            Log.error("\(what): \(named("\(error)", copy).split(separator: "\n").joined(separator: "; "))")
            return nil
        }
        // A certificate that does not load would stop every new worker: the serving ones go on instead.
        if number > 0, let tls = settings.tlsSettings {
            do { _ = try TLSServerContext(tls) } catch {
                copy.map { _ = unlink($0) }
                Log.error("\(what): \(error)")
                return nil
            }
        }
        // The sockets (one per worker) and the storage checked at start are the supervisor's for its whole life.
        let changed = settings.changesNeedingRestart(from: running)
        guard changed.isEmpty else {
            copy.map { _ = unlink($0) }
            Log.error("\(what): " + changed.map { "\($0), which needs a restart" }.joined(separator: "; "))
            return nil
        }
        // A file the new workers could not read would have each of them fail: say it once, keep the old ones.
        if number > 0 {
            do { try settings.prepareAuthentication().forEach { Log.warn($0) } } catch {
                copy.map { _ = unlink($0) }
                Log.error("\(what): \(error)")
                return nil
            }
        }
        Log.level = LogLevel(name: settings.logLevel) ?? .info
        Log.format = LogFormat(name: settings.logFormatter) ?? .text
        return WorkerGeneration(environment: copy.map { [(Self.snapshotVariable, $0)] } ?? [],
                                files: copy.map { [$0] } ?? [])
    }

    /// Messages about the copy name the file the operator edits.
    private func named(_ message: String, _ copy: String?) -> String {
        guard let copy, let config else { return message }
        return message.replacingOccurrences(of: copy, with: config)
    }
}
