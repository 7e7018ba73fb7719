import ArgumentParser
import BerthConfiguration
import BerthStorage
import Foundation

/// `berth cache evict`: `MirrorCacheEviction` of one tag, manifest or repository.
struct CacheEvict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evict",
        abstract: "Remove an image from the cache, so that the next pull fetches it from the upstream again.",
        discussion: """
            IMAGE is a cache name as berth cache list prints it, with :tag, @digest, or alone for the whole \
            repository. The tag goes, and the manifests and layer links that nothing else in the repository \
            uses; the blobs no other cached image references are removed at once (unless a garbage collection \
            is running: then its next sweep removes them). Safe while berth serve runs on the same root.

            Exit status: 0 evicted, 1 not in the cache, 2 usage or configuration error.
            """)

    @OptionGroup var storage: StoreOptions

    @Argument(help: "repository:tag, repository@digest or repository.")
    var image: String

    func validate() throws {
        _ = try CacheEntryArgument(image)
    }

    func run() throws {
        let entry = try CacheEntryArgument(image).entry
        let (_, store) = try storage.openMirror()
        let report: MirrorCacheEviction.Report
        do {
            report = try MirrorCacheEviction(store: store).evict(entry)
        } catch let error as MirrorCacheEviction.NotCached {
            throw Berth.failure(error, status: 1)
        }
        var line = "evicted \(entry): \(report.removedTags.count) tags, \(report.removedManifests.count) manifests, "
            + "\(report.unlinkedLayers) layer links"
        if report.removedRepository { line += ", the repository" }
        line += "; \(report.removedBlobs.count) blobs removed (\(humanBytes(report.removedBytes)))"
        if report.blobsLeft > 0 { line += ", \(report.blobsLeft) left to the next garbage collection" }
        print(line)
    }
}
