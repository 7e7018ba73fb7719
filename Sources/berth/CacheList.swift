import ArgumentParser
import BerthConfiguration
import BerthStorage
import Foundation

/// `berth cache list`: the mirror's cache as `MirrorCacheInventory` reads it, as lines or one JSON object.
struct CacheList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List cached repositories, tags, sizes, last pulls and what eviction would take next.",
        discussion: """
            A size is the manifest and every cached blob it references, each once; blobs shared between images \
            count once in a repository's size and in the total. Last pull is when the tag was last fetched or \
            confirmed with the upstream, or its manifest last served from the cache: the mirror records hits on \
            disk only while proxy.cache.maxsize is set. Next to evict is the order in which the cache bound \
            removes blobs: those no tag needs first, then the least recently used.
            """)

    @OptionGroup var storage: StoreOptions

    @Option(name: .long, help: "Only this repository (a cache name, as listed).")
    var repo: String?

    @Option(name: .long, help: "text or json.")
    var output: String = "text"

    @Option(name: .long, help: "How many of the next blobs to evict to show.")
    var next: Int = 10

    func validate() throws {
        guard output == "text" || output == "json" else { throw ValidationError("--output: \(quoted(output)) is not text or json") }
        guard (0...1_000_000).contains(next) else { throw ValidationError("--next: expected 0 to 1000000") }
        if let repo, RepositoryName(repo) == nil { throw ValidationError("--repo: \(quoted(repo)) is not a repository name") }
    }

    func run() throws {
        let (settings, store) = try storage.openMirror()
        let name = repo.flatMap { RepositoryName($0) }
        if let name, !store.repositoryExists(name) {
            throw Berth.failure("--repo \(name): no such repository in the cache", status: 1)
        }
        let inventory = MirrorCacheInventory(store: store, repository: name, evictionPreview: next)
        let limit = settings.mirrorOptions?.cacheMaxBytes
        if output == "json" {
            printJSON(inventory, limit: limit)
        } else {
            printLines(inventory, limit: limit)
        }
    }

    private func printLines(_ inventory: MirrorCacheInventory, limit: Int64?) {
        for repository in inventory.repositories {
            print("\(repository.name): \(humanBytes(repository.bytes)) in \(repository.blobs) blobs, "
                  + "\(repository.tags.count) tags, \(repository.untagged.count) untagged manifests, last pull \(timestamp(repository.lastPull) ?? "-")")
            for tagged in repository.tags {
                print("  \(tagged.tag) \(describe(tagged.image))")
            }
            for image in repository.untagged {
                print("  (untagged) \(describe(image))")
            }
        }
        var total = "cache: \(inventory.repositories.count) repositories, \(humanBytes(inventory.storedBytes)) in \(inventory.storedBlobs) blobs"
        if let limit {
            let over = inventory.storedBytes - limit
            total += over > 0 ? ", \(humanBytes(over)) over proxy.cache.maxsize (\(humanBytes(limit))): the next sweep evicts"
                              : ", proxy.cache.maxsize \(humanBytes(limit))"
        } else {
            total += ", no proxy.cache.maxsize (nothing is evicted; hits are not recorded)"
        }
        print(total)
        guard !inventory.evictionOrder.isEmpty else { return }
        print("next to evict:")
        for blob in inventory.evictionOrder {
            let users = blob.usedBy.isEmpty ? "no cached image" : blob.usedBy.joined(separator: " ")
            print("  \(blob.digest) \(humanBytes(blob.size)) last used \(timestamp(blob.lastUsed) ?? "-")"
                  + "\(blob.neededByTag ? "" : " (no tag needs it)"): \(users)")
        }
    }

    private func describe(_ image: MirrorCacheInventory.Image) -> String {
        "\(image.digest) \(humanBytes(image.bytes)) in \(image.blobs) blobs"
            + (image.missingBlobs > 0 ? " (\(image.missingBlobs) referenced, not cached)" : "")
            + ", last pull \(timestamp(image.lastPull) ?? "-")"
    }

    private func printJSON(_ inventory: MirrorCacheInventory, limit: Int64?) {
        func image(_ image: MirrorCacheInventory.Image) -> [String: Any] {
            ["digest": image.digest.description, "bytes": image.bytes, "blobs": image.blobs,
             "missingBlobs": image.missingBlobs, "lastPull": timestamp(image.lastPull) ?? NSNull()]
        }
        let repositories: [[String: Any]] = inventory.repositories.map { repository in
            ["name": repository.name, "bytes": repository.bytes, "blobs": repository.blobs,
             "lastPull": timestamp(repository.lastPull) ?? NSNull(),
             "tags": repository.tags.map { tagged -> [String: Any] in
                 var entry = image(tagged.image)
                 entry["tag"] = tagged.tag
                 entry["validated"] = timestamp(tagged.validated) ?? NSNull()
                 return entry
             },
             "untagged": repository.untagged.map(image)]
        }
        let next: [[String: Any]] = inventory.evictionOrder.map { blob in
            ["digest": blob.digest.description, "size": blob.size, "lastUsed": timestamp(blob.lastUsed) ?? NSNull(),
             "neededByTag": blob.neededByTag, "usedBy": blob.usedBy]
        }
        let object: [String: Any] = [
            "repositories": repositories, "storedBytes": inventory.storedBytes, "storedBlobs": inventory.storedBlobs,
            "maxBytes": limit.map { $0 as Any } ?? NSNull(), "hitsRecorded": limit != nil, "nextToEvict": next,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
    }
}
