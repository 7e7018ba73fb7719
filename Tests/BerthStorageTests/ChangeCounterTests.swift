@testable import BerthStorage
import BerthTestSupport
import Glibc
import XCTest

/// Every store on one root shares the counter, as every worker process does, and each change to a link or
/// a blob moves it: caches that rely on it see another process's change at once.
final class ChangeCounterTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make("berth-changes")
    }

    override func tearDown() {
        TemporaryDirectory.remove(root)
    }

    func test_a_change_through_one_store_moves_the_counter_another_store_reads() throws {
        let writer = try RegistryStore(rootDirectory: root, fsync: false)
        let reader = try RegistryStore(rootDirectory: root, fsync: false)
        let repository = RepositoryName("team/app")!
        let bytes: [UInt8] = Array("{}".utf8)
        let digest = Digest.sha256(of: bytes)

        var seen = try XCTUnwrap(reader.changes.value)
        XCTAssertEqual(writer.changes.value, seen)
        let changes: [(String, () throws -> Void)] = [
            ("blob stored", { try writer.storeBlob(bytes, digest: digest) }),
            ("manifest linked", { try writer.linkManifest(digest, in: repository) }),
            ("tag set", { try writer.setTag(Tag("v1")!, to: digest, in: repository) }),
            ("layer linked", { try writer.linkLayer(digest, in: repository) }),
            ("layer unlinked", { try writer.unlinkLayer(digest, in: repository) }),
            ("tag deleted", { try writer.deleteTag(Tag("v1")!, in: repository) }),
            ("manifest deleted", { try writer.deleteManifest(digest, in: repository) }),
        ]
        for (name, change) in changes {
            try change()
            let now = try XCTUnwrap(reader.changes.value)
            XCTAssertGreaterThan(now, seen, "\(name) must move the counter")
            seen = now
        }
        XCTAssertNotNil(try? FileSystem.read(root + "/docker/registry/v2/.berth-changes", limit: 8192))
    }
}
