import ArgumentParser
import BerthHTTP
import BerthStorage
import Foundation

/// `berth garbage-collect`: an offline mark and sweep with registry:2's rules and output.
struct GarbageCollect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "garbage-collect",
        abstract: "Remove blobs no manifest references (run while nothing pushes, or rely on online GC).")

    @OptionGroup var storage: StoreOptions

    @Flag(name: [.customShort("d"), .long], help: "Only print what would be removed.")
    var dryRun = false

    @Flag(name: [.customShort("m"), .long], help: "Also remove manifests that no tag points to.")
    var deleteUntagged = false

    func run() throws {
        let (settings, store) = try storage.open(unusableRoot: 1)
        var options = GarbageCollector.Options()
        options.dryRun = dryRun
        options.deleteUntagged = deleteUntagged
        options.uploadMaxAgeSeconds = settings.uploadMaxAgeSeconds
        let report = try GarbageCollector(store: store, options: options).run { print($0) }
        print("\(report.markedBlobs) blobs marked, \(report.removedBlobs.count) blobs and \(report.removedManifests.count) manifests eligible for deletion, \(report.reclaimedBytes) bytes\(dryRun ? " (dry run: nothing removed)" : " removed")")
    }
}
