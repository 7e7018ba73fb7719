@testable import BerthStorage
import BerthTestSupport
import Glibc
import XCTest

/// A committed upload is gone for every request at once (one rename), while the removal of its bytes waits
/// for `removeRetired()`, after the answer.
final class UploadRetireTests: XCTestCase {
    private var root = ""
    private let repository = RepositoryName("retire/test")!

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make("berth-retire-tests")
    }

    override func tearDown() {
        TemporaryDirectory.remove(root)
    }

    func test_a_duplicate_upload_is_retired_whole_and_removed_later() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let bytes = Array("the same layer, pushed twice".utf8)
        let digest = Digest.sha256(of: bytes)
        try push(bytes, to: store, expecting: digest)

        let session = try store.createUpload(in: repository)
        try bytes.withUnsafeBytes { try session.append($0) }
        try session.commit(expected: digest)
        session.release()

        XCTAssertFalse(FileSystem.exists(store.path(.upload(.repository(repository), id: session.id))))
        XCTAssertThrowsError(try store.openUpload(session.id, in: repository)) { error in
            guard case StorageError.notFound = error else { return XCTFail("\(error)") }
        }
        let retired = FileSystem.list(store.path(.retired))
        XCTAssertEqual(retired.count, 2, "the first upload's leftovers and the whole second upload")
        let data = retired.map { store.path(.retired) + "/\($0)/data" }.filter { FileSystem.exists($0) }
        XCTAssertEqual(try data.map { try FileSystem.read($0, limit: 1024) }, [bytes], "the duplicate's bytes, not yet removed")

        store.removeRetired()
        XCTAssertEqual(FileSystem.list(store.path(.retired)), [])
        XCTAssertEqual(try FileSystem.read(store.path(.blobData(digest)), limit: 1024), bytes)
    }

    func test_a_failed_commit_retires_nothing() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let session = try store.createUpload(in: repository)
        try Array("some bytes".utf8).withUnsafeBytes { try session.append($0) }
        XCTAssertThrowsError(try session.commit(expected: Digest.sha256(of: Array("other bytes".utf8))))
        session.release()
        XCTAssertEqual(FileSystem.list(store.path(.retired)), [])
        XCTAssertFalse(FileSystem.exists(store.path(.upload(.repository(repository), id: session.id))))
    }

    private func push(_ bytes: [UInt8], to store: RegistryStore, expecting digest: Digest) throws {
        let session = try store.createUpload(in: repository)
        defer { session.release() }
        try bytes.withUnsafeBytes { try session.append($0) }
        XCTAssertEqual(try session.commit(expected: digest), Int64(bytes.count))
    }
}
