@testable import BerthStorage
import Foundation
import Glibc
import XCTest

/// `berth cache list` and `evict` on a store laid out as the mirror leaves it: an index of two platforms tagged
/// `v1`, one of its children tagged `amd64` as well, and a second repository sharing that child's blobs.
final class MirrorCacheTests: XCTestCase {
    private var root = ""
    private let multi = RepositoryName("library/multi")!
    private let other = RepositoryName("library/other")!
    private var store: RegistryStore!
    private var amd64 = (manifest: Digest.sha256(of: []), blobs: [Digest]())
    private var arm64 = (manifest: Digest.sha256(of: []), blobs: [Digest]())
    private var index = Digest.sha256(of: [])

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "berth-cache-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        store = try RegistryStore(rootDirectory: root, fsync: false)
        amd64 = try image("amd64", in: [multi, other])
        arm64 = try image("arm64", in: [multi])
        let children = [amd64.manifest, arm64.manifest].map { "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"\($0)\",\"size\":1}" }
        index = try manifest("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[\(children.joined(separator: ","))]}", in: [multi])
        try store.setTag(Tag("v1")!, to: index, in: multi)
        try store.setTag(Tag("amd64")!, to: amd64.manifest, in: multi)
        try store.setTag(Tag("latest")!, to: amd64.manifest, in: other)
    }

    override func tearDown() {
        FileSystem.removeTree(root)
    }

    private func blob(_ text: String, in repositories: [RepositoryName]) throws -> Digest {
        let bytes = Array(text.utf8)
        let digest = Digest.sha256(of: bytes)
        try store.storeBlob(bytes, digest: digest)
        for name in repositories { try store.linkLayer(digest, in: name) }
        // Stored two hours ago: older than any eviction's epoch.
        var past = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil) - 7200, tv_usec: 0)]
        utimes(store.path(.blobData(digest)), &past)
        return digest
    }

    private func manifest(_ text: String, in repositories: [RepositoryName]) throws -> Digest {
        let digest = try blob(text, in: [])
        for name in repositories { try store.linkManifest(digest, in: name) }
        return digest
    }

    private func image(_ arch: String, in repositories: [RepositoryName]) throws -> (manifest: Digest, blobs: [Digest]) {
        let config = try blob("{\"architecture\":\"\(arch)\"}", in: repositories)
        let layer = try blob("layer of \(arch)", in: repositories)
        let digest = try manifest("{\"schemaVersion\":2,\"config\":{\"digest\":\"\(config)\"},\"layers\":[{\"digest\":\"\(layer)\"}]}", in: repositories)
        return (digest, [config, layer])
    }

    private func size(_ digests: [Digest]) -> Int64 {
        digests.reduce(0) { $0 + (store.blobSize($1) ?? 0) }
    }

    func test_the_inventory_sizes_each_image_and_counts_a_shared_blob_once() throws {
        let inventory = MirrorCacheInventory(store: store)
        XCTAssertEqual(inventory.repositories.map(\.name), ["library/multi", "library/other"])
        let tags = Dictionary(uniqueKeysWithValues: inventory.repositories[0].tags.map { ($0.tag, $0.image) })
        XCTAssertEqual(tags["amd64"]?.bytes, size([amd64.manifest] + amd64.blobs))
        XCTAssertEqual(tags["v1"]?.blobs, 7)
        XCTAssertEqual(tags["v1"]?.bytes, size([index, amd64.manifest, arm64.manifest] + amd64.blobs + arm64.blobs))
        // The index's children count with it, not as untagged manifests.
        XCTAssertEqual(inventory.repositories[0].untagged.map(\.digest), [])
        XCTAssertEqual(inventory.storedBlobs, 7)
        XCTAssertEqual(inventory.storedBytes, size([index, amd64.manifest, arm64.manifest] + amd64.blobs + arm64.blobs))
        XCTAssertEqual(Set(inventory.evictionOrder.first { $0.digest == amd64.blobs[1] }?.usedBy ?? []),
                       ["library/multi:v1", "library/multi:amd64", "library/other:latest"])
    }

    func test_evicting_a_tag_keeps_what_another_tag_or_repository_needs_and_removes_the_rest() throws {
        let report = try MirrorCacheEviction(store: store).evict(.tag(multi, Tag("v1")!))
        XCTAssertEqual(report.removedTags, ["v1"])
        XCTAssertEqual(Set(report.removedManifests), [index, arm64.manifest])
        XCTAssertEqual(Set(report.removedBlobs.map(\.digest)), Set([index, arm64.manifest] + arm64.blobs))
        XCTAssertEqual(report.blobsLeft, 0)
        XCTAssertNil(store.resolveTag(Tag("v1")!, in: multi))
        XCTAssertEqual(store.resolveTag(Tag("amd64")!, in: multi), amd64.manifest)
        XCTAssertTrue(store.isManifestLinked(amd64.manifest, in: multi))
        XCTAssertFalse(store.isLayerLinked(arm64.blobs[1], in: multi))
        XCTAssertTrue(store.isLayerLinked(amd64.blobs[1], in: multi))
        for digest in [amd64.manifest] + amd64.blobs { XCTAssertNotNil(store.blobSize(digest)) }
    }

    func test_evicting_a_manifest_by_digest_takes_its_tags_and_a_repository_left_empty_goes() throws {
        let report = try MirrorCacheEviction(store: store).evict(.manifest(other, amd64.manifest))
        XCTAssertEqual(report.removedTags, ["latest"])
        XCTAssertTrue(report.removedRepository)
        XCTAssertFalse(store.repositoryExists(other))
        XCTAssertEqual(report.removedBlobs.count, 0, "library/multi still uses every blob")
    }

    func test_evicting_a_repository_while_a_sweep_runs_leaves_its_blobs_to_the_sweep() throws {
        let lock = open(store.path(.collectionLock), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        defer { close(lock) }
        XCTAssertEqual(flock(lock, LOCK_EX), 0)
        let report = try MirrorCacheEviction(store: store).evict(.repository(multi))
        XCTAssertTrue(report.removedRepository)
        XCTAssertFalse(store.repositoryExists(multi))
        XCTAssertEqual(report.removedBlobs.count, 0)
        XCTAssertEqual(report.blobsLeft, 7)
        XCTAssertEqual(store.repositories(), ["library/other"])
    }

    func test_evicting_what_is_not_cached_says_so() {
        XCTAssertThrowsError(try MirrorCacheEviction(store: store).evict(.tag(multi, Tag("v9")!)))
        XCTAssertThrowsError(try MirrorCacheEviction(store: store).evict(.repository(RepositoryName("library/none")!)))
    }
}
