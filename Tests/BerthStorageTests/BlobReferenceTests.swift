@testable import BerthStorage
import BerthTestSupport
import Foundation
import Glibc
import XCTest

/// A reference to a blob (a manifest PUT, a commit) and the sweep's removal of it exclude each other, and the
/// sweep spares what was referenced after its epoch.
final class BlobReferenceTests: XCTestCase {
    private var root = ""
    private let repository = RepositoryName("refs/test")!

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make("berth-reference-tests")
    }

    override func tearDown() {
        TemporaryDirectory.remove(root)
    }

    /// A blob stored and linked, last written two hours ago.
    private func oldBlob(_ store: RegistryStore, _ text: String) throws -> Digest {
        let bytes = Array(text.utf8)
        let digest = Digest.sha256(of: bytes)
        try store.storeBlob(bytes, digest: digest)
        try store.linkLayer(digest, in: repository)
        var past = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil) - 7200, tv_usec: 0)]
        XCTAssertEqual(utimes(store.path(.blobData(digest)), &past), 0)
        return digest
    }

    private func epoch(_ store: RegistryStore) throws -> Double {
        let path = store.base + "/epoch"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        defer { close(fd) }
        return try RegistryStore.fileSystemNow(fd, path: path)
    }

    func test_referencing_a_blob_that_is_not_stored_writes_nothing_and_names_it() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let stored = try oldBlob(store, "stored")
        let gone = Digest.sha256(of: Array("never stored".utf8))
        var wrote = false
        XCTAssertEqual(try store.referencing([stored, gone]) { wrote = true }, gone)
        XCTAssertFalse(wrote)
        XCTAssertNil(try store.referencing([stored]) { wrote = true })
        XCTAssertTrue(wrote)
    }

    func test_the_sweep_removes_an_unreferenced_blob_and_its_links() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let digest = try oldBlob(store, "unreferenced")
        let link = store.path(.layerLink(repository, digest))
        XCTAssertTrue(try store.removeUnreferencedBlob(digest, epoch: try epoch(store), links: [link]) { _ in false })
        XCTAssertNil(store.blobSize(digest))
        XCTAssertFalse(FileSystem.exists(link))
        XCTAssertFalse(store.isLayerLinked(digest, in: repository))
    }

    func test_the_sweep_spares_a_blob_referenced_after_its_epoch() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let digest = try oldBlob(store, "referenced meanwhile")
        let sweepStarted = try epoch(store)
        XCTAssertNil(try store.referencing([digest]) {})
        XCTAssertFalse(try store.removeUnreferencedBlob(digest, epoch: sweepStarted, links: []) { _ in false })
        XCTAssertNotNil(store.blobSize(digest))
    }

    /// What another process would get, trying the shard's lock without waiting.
    private func tryLock(_ store: RegistryStore, _ digest: Digest, _ operation: Int32) -> Bool {
        let fd = open(store.path(.blobShardLock(digest)), O_RDWR | O_CLOEXEC)
        defer { close(fd) }
        return fd >= 0 && flock(fd, operation | LOCK_NB) == 0
    }

    func test_a_writer_holds_the_shard_shared_and_the_sweep_holds_it_exclusively() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let digest = try oldBlob(store, "locked")
        var checked = false
        XCTAssertNil(try store.referencing([digest]) {
            XCTAssertFalse(tryLock(store, digest, LOCK_EX), "a sweep could remove the blob during the write")
            XCTAssertTrue(tryLock(store, digest, LOCK_SH), "writers would wait on each other")
            checked = true
        })
        XCTAssertTrue(checked)
        XCTAssertFalse(try store.removeUnreferencedBlob(digest, epoch: try epoch(store), links: []) { _ in
            XCTAssertFalse(tryLock(store, digest, LOCK_SH), "a writer could reference the blob during the re-check")
            return true
        })
        XCTAssertTrue(tryLock(store, digest, LOCK_EX), "the lock outlived the sweep's removal")
    }

    func test_stale_temporary_files_go_and_fresh_ones_stay() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let stale = store.base + "/.tmp-stale"
        let fresh = store.base + "/.tmp-fresh"
        let other = store.base + "/not-temporary"
        for file in [stale, fresh, other] { try FileSystem.writeAtomically(file, [1], sync: false) }
        var past = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil) - 7200, tv_usec: 0)]
        XCTAssertEqual(utimes(stale, &past), 0)
        XCTAssertEqual(utimes(other, &past), 0)
        XCTAssertEqual(store.removeStaleTemporaries(), [stale])
        XCTAssertTrue(FileSystem.exists(fresh))
        XCTAssertTrue(FileSystem.exists(other))
    }
}
