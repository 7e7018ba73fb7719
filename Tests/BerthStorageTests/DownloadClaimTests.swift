@testable import BerthStorage
import BerthTestSupport
import Glibc
import XCTest

final class DownloadClaimTests: XCTestCase {
    private var root = ""
    private var store: RegistryStore!

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make("berth-claim")
        store = try RegistryStore(rootDirectory: root, fsync: false)
    }

    override func tearDown() {
        TemporaryDirectory.remove(root)
    }

    private func write(_ claim: DownloadClaim, _ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { try claim.write($0, at: offset) }
    }

    func test_one_claim_at_a_time_and_others_observe_it_running_with_its_size() throws {
        let first = try XCTUnwrap(try DownloadClaim.claim("blob-a", in: store))
        XCTAssertNil(try DownloadClaim.claim("blob-a", in: store), "a second claim on the same key must fail while the first holds it")
        XCTAssertEqual(store.observeDownload("blob-a"), .running(size: nil))
        first.announce(size: 10)
        XCTAssertEqual(store.observeDownload("blob-a"), .running(size: 10))
        XCTAssertEqual(store.observeDownload("blob-b"), .idle)
        first.abandon()
    }

    func test_a_follower_sees_the_partial_file_grow() throws {
        let claim = try XCTUnwrap(try DownloadClaim.claim("blob-grow", in: store))
        try write(claim, [1, 2, 3], at: 0)
        let follower = try XCTUnwrap(store.openDownloadData("blob-grow"))
        defer { close(follower) }
        XCTAssertEqual(RegistryStore.currentSize(follower), 3)
        try write(claim, [4, 5], at: 3)
        XCTAssertEqual(RegistryStore.currentSize(follower), 5)
        claim.abandon()
    }

    func test_commit_moves_the_partial_file_into_the_blob_store_and_frees_the_key() throws {
        let bytes: [UInt8] = Array("hello mirror".utf8)
        let digest = Digest.sha256(of: bytes)
        let claim = try XCTUnwrap(try DownloadClaim.claim("blob-commit", in: store))
        try write(claim, bytes, at: 0)
        let follower = try XCTUnwrap(store.openDownloadData("blob-commit"))
        defer { close(follower) }
        try claim.commitBlob(digest)
        XCTAssertEqual(try store.readBlob(digest, limit: 1024), bytes)
        XCTAssertNil(store.openDownloadData("blob-commit"), "the partial file is the blob now")
        XCTAssertEqual(store.observeDownload("blob-commit"), .idle)
        XCTAssertEqual(RegistryStore.currentSize(follower), Int64(bytes.count), "a follower's descriptor stays on the same bytes")
        XCTAssertNotNil(try DownloadClaim.claim("blob-commit", in: store))
    }

    func test_abandon_removes_the_partial_file_and_the_next_claim_starts_empty() throws {
        let claim = try XCTUnwrap(try DownloadClaim.claim("blob-fail", in: store))
        try write(claim, [9, 9, 9], at: 0)
        claim.abandon()
        XCTAssertEqual(store.observeDownload("blob-fail"), .idle)
        XCTAssertNil(store.openDownloadData("blob-fail"))
        let again = try XCTUnwrap(try DownloadClaim.claim("blob-fail", in: store))
        XCTAssertEqual(RegistryStore.currentSize(again.dataDescriptor), 0)
        again.abandon()
    }

    func test_a_lock_file_left_by_a_killed_process_does_not_block_the_next_claim() throws {
        try FileSystem.makeDirectories(store.path(.downloads))
        let lockPath = store.path(.downloadLock(key: "blob-stale"))
        let leftover = open(lockPath, O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(leftover, 0)
        _ = "1234".withCString { Glibc.write(leftover, $0, 4) }
        close(leftover)
        XCTAssertEqual(store.observeDownload("blob-stale"), .idle, "nobody holds the lock")
        let claim = try XCTUnwrap(try DownloadClaim.claim("blob-stale", in: store))
        XCTAssertEqual(store.observeDownload("blob-stale"), .running(size: nil), "the old size is not taken for the new download's")
        claim.abandon()
    }

    func test_garbage_collection_removes_what_a_killed_download_left_and_spares_a_running_one() throws {
        let running = try XCTUnwrap(try DownloadClaim.claim("blob-running", in: store))
        try write(running, [1], at: 0)
        try FileSystem.makeDirectories(store.path(.downloads))
        close(open(store.path(.downloadLock(key: "blob-killed")), O_RDWR | O_CREAT, 0o644))
        close(open(store.path(.downloadData(key: "blob-killed")), O_RDWR | O_CREAT, 0o644))
        XCTAssertEqual(store.removeAbandonedDownloads(), ["blob-killed"])
        XCTAssertFalse(FileSystem.exists(store.path(.downloadData(key: "blob-killed"))))
        XCTAssertTrue(FileSystem.exists(store.path(.downloadData(key: "blob-running"))))
        running.abandon()
    }
}
