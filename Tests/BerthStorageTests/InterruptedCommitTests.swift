@testable import BerthStorage
import BerthTestSupport
import Glibc
import XCTest

/// A commit cut short by a crash after it moved the upload's data into the blob store (and before it retired
/// the upload's directory) leaves a directory without `data`: that upload is unknown, not resumable from 0.
final class InterruptedCommitTests: XCTestCase {
    private var root = ""
    private let repository = RepositoryName("crash/commit")!

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make("berth-interrupted-commit")
    }

    override func tearDown() {
        TemporaryDirectory.remove(root)
    }

    func test_an_upload_whose_data_was_moved_into_the_blob_store_is_unknown() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let bytes = Array("a layer whose commit was cut short".utf8)
        let session = try store.createUpload(in: repository)
        try bytes.withUnsafeBytes { try session.append($0) }
        try session.checkpoint()
        session.release()
        // What a SIGKILL right after `installBlob` leaves: the blob stored, the upload's directory still there.
        try store.installBlob(from: store.path(.uploadData(.repository(repository), id: session.id)), as: Digest.sha256(of: bytes))
        XCTAssertTrue(FileSystem.isDirectory(store.path(.upload(.repository(repository), id: session.id))))

        for exclusive in [false, true] {
            XCTAssertThrowsError(try store.openUpload(session.id, in: repository, exclusive: exclusive)) { error in
                guard case StorageError.notFound = error else { return XCTFail("\(error)") }
            }
        }
        XCTAssertFalse(FileSystem.exists(store.path(.uploadData(.repository(repository), id: session.id))),
                       "opening must not make an empty data file that would say the upload stands at 0")
    }

    func test_a_new_upload_has_its_data_file_and_reopens_at_zero() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let session = try store.createUpload(in: repository)
        session.release()
        XCTAssertTrue(FileSystem.exists(store.path(.uploadData(.repository(repository), id: session.id))))
        XCTAssertEqual(try store.openUpload(session.id, in: repository, exclusive: false).offset, 0)
    }
}
