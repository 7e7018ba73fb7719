@testable import BerthStorage
import BerthTestSupport
import Glibc
import XCTest

/// `StorageCheck` on a store built by the store's own calls, damaged by hand; `StorageRepair` looks again before
/// it acts, so a finding put right meanwhile (by a server on the same root) is left alone.
final class StorageCheckTests: XCTestCase {
    private var root = ""
    private let repository = RepositoryName("check/app")!
    private var store: RegistryStore!

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make("berth-check-tests")
        store = try RegistryStore(rootDirectory: root, fsync: false)
    }

    override func tearDown() {
        TemporaryDirectory.remove(root)
    }

    func test_a_tagged_image_and_an_index_of_it_have_no_findings() throws {
        let image = try pushImage(tag: "v1")
        let index = Array(#"{"schemaVersion":2,"manifests":[{"digest":"\#(image)","size":1}]}"#.utf8)
        try storeManifest(index, tag: "all")
        let report = check()
        XCTAssertEqual(report.findings.map(\.kind), [])
        XCTAssertEqual(report.manifests, 2)
        XCTAssertEqual(report.blobs, 4, "config, layer, manifest, index")
        XCTAssertEqual(report.blobsHashed, 4)
    }

    func test_quick_hashes_every_manifest_and_finds_a_corrupt_one() throws {
        let manifest = try pushImage(tag: "v1")
        try flipFirstByte(store.path(.blobData(manifest)))
        var options = StorageCheck.Options()
        options.quick = true
        let report = StorageCheck(store: store, options: options).run()
        XCTAssertEqual(report.findings.map(\.kind), [.corruptBlob])
        XCTAssertEqual(report.findings.first?.path, StoragePath.blobData(manifest).relative)
    }

    func test_a_corrupt_manifest_is_quarantined_with_its_revision_and_tag() throws {
        let manifest = try pushImage(tag: "v1")
        try flipFirstByte(store.path(.blobData(manifest)))
        XCTAssertEqual(check(delay: 0).findings.map(\.kind), [.corruptBlob],
                       "what a corrupt manifest references is unknown: no blob is called unreferenced")
        let finding = try XCTUnwrap(check().findings.first)
        guard case .repaired = repairer.repair(finding) else { return XCTFail("not repaired") }
        XCTAssertNil(store.blobSize(manifest))
        XCTAssertFalse(store.isManifestLinked(manifest, in: repository))
        XCTAssertNil(store.resolveTag(Tag("v1")!, in: repository))
        let quarantined = FileSystem.list(store.path(.quarantine))
        XCTAssertEqual(quarantined.count, 1)
        XCTAssertTrue(quarantined[0].hasPrefix("sha256-\(manifest.encoded)-"))
    }

    func test_an_unreferenced_blob_is_an_orphan_only_past_the_delay() throws {
        let orphan = try pushBlob(Array("pushed, never referenced".utf8))
        XCTAssertEqual(check(delay: 3600).findings.map(\.kind), [], "it may belong to a push in flight")
        let finding = try XCTUnwrap(check(delay: 0).findings.first)
        XCTAssertEqual(finding.kind, .unreferencedBlob)
        XCTAssertFalse(finding.kind.isDamage)
        guard case .repaired = repairer.repair(finding) else { return XCTFail("not repaired") }
        XCTAssertNil(store.blobSize(orphan))
        XCTAssertFalse(store.isLayerLinked(orphan, in: repository), "its link goes first, then the blob")
        XCTAssertEqual(check(delay: 0).findings.map(\.kind), [])
    }

    func test_an_unreferenced_blob_that_a_push_links_since_the_check_is_left() throws {
        let blob = try pushBlob(Array("found stored by a push".utf8))
        let checkedAt = Double(time(nil))
        let finding = try XCTUnwrap(check(delay: 0).findings.first)
        XCTAssertNil(try store.referencing([blob]) {})  // what a manifest PUT that references it does
        XCTAssertEqual(StorageRepair(store: store, checkedAt: checkedAt).repair(finding), .gone)
        XCTAssertNotNil(store.blobSize(blob))
        XCTAssertTrue(store.isLayerLinked(blob, in: repository))
    }

    func test_a_dangling_link_put_right_meanwhile_is_left_alone() throws {
        let bytes = Array("a layer that comes back".utf8)
        let layer = try pushBlob(bytes)
        unlink(store.path(.blobData(layer)))
        let finding = try XCTUnwrap(check().findings.first)
        XCTAssertEqual(finding.kind, .danglingLink)
        _ = try pushBlob(bytes)  // pushed again between the check and the repair
        XCTAssertEqual(repairer.repair(finding), .gone)
        XCTAssertTrue(store.isLayerLinked(layer, in: repository))
    }

    func test_an_old_upload_that_a_request_is_writing_is_not_removed() throws {
        let session = try store.createUpload(in: repository)
        try FileSystem.writeAtomically(store.path(.uploadStartedAt(.repository(repository), id: session.id)),
                                       Array("2020-01-01T00:00:00Z".utf8), sync: false)
        let finding = try XCTUnwrap(check().findings.first)
        XCTAssertEqual(finding.kind, .staleUpload)
        XCTAssertEqual(repairer.repair(finding), .notRepaired("a request is writing to it"))
        session.release()
        guard case .repaired = repairer.repair(finding) else { return XCTFail("not repaired") }
        XCTAssertFalse(FileSystem.exists(store.path(.upload(.repository(repository), id: session.id))))
    }

    func test_a_manifest_whose_layer_is_gone_has_a_missing_reference_and_no_repair() throws {
        let layer = try pushBlob(Array("the only layer".utf8))
        let manifest = Array(#"{"schemaVersion":2,"layers":[{"digest":"\#(layer)","size":14}]}"#.utf8)
        try storeManifest(manifest, tag: "v1")
        store.removeBlob(layer)
        let kinds = check().findings.map(\.kind).sorted { $0.rawValue < $1.rawValue }
        XCTAssertEqual(kinds, [.danglingLink, .missingReference])
        XCTAssertFalse(try XCTUnwrap(check().findings.first { $0.kind == .missingReference }).isRepairable)
    }

    // MARK: Helpers

    private var repairer: StorageRepair { StorageRepair(store: store, checkedAt: Double(time(nil)) + 1) }

    private func check(delay: Double = 3600) -> StorageCheck.Report {
        var options = StorageCheck.Options()
        options.blobDelaySeconds = delay
        return StorageCheck(store: store, options: options).run()
    }

    @discardableResult
    private func pushBlob(_ bytes: [UInt8]) throws -> Digest {
        let digest = Digest.sha256(of: bytes)
        let session = try store.createUpload(in: repository)
        defer { session.release() }
        try bytes.withUnsafeBytes { try session.append($0) }
        try session.commit(expected: digest)
        store.removeRetired()
        return digest
    }

    private func storeManifest(_ bytes: [UInt8], tag: String) throws {
        let digest = Digest.sha256(of: bytes)
        try store.storeBlob(bytes, digest: digest)
        try store.linkManifest(digest, in: repository)
        try store.setTag(Tag(tag)!, to: digest, in: repository)
    }

    private func pushImage(tag: String) throws -> Digest {
        let config = try pushBlob(Array(#"{"architecture":"amd64","os":"linux"}"#.utf8))
        let layer = try pushBlob((0..<4096).map { UInt8($0 & 0xff) })
        let manifest = Array(#"{"schemaVersion":2,"config":{"digest":"\#(config)","size":1},"layers":[{"digest":"\#(layer)","size":4096}]}"#.utf8)
        try storeManifest(manifest, tag: tag)
        return Digest.sha256(of: manifest)
    }

    private func flipFirstByte(_ file: String) throws {
        var bytes = try FileSystem.read(file)
        bytes[0] ^= 0xff
        unlink(file)
        try FileSystem.writeAtomically(file, bytes, sync: false)
    }
}
