import BerthHTTP
@testable import BerthRegistry
import BerthStorage
import BerthTestSupport
import Glibc
import XCTest

final class OpenBlobCacheTests: XCTestCase {
    private var root = ""
    private var store: RegistryStore!

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make("berth-open-blobs")
        store = try RegistryStore(rootDirectory: root, fsync: false)
    }

    override func tearDown() {
        TemporaryDirectory.remove(root)
    }

    private func contents(_ file: OpenFile, _ size: Int64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(size))
        XCTAssertEqual(pread(file.descriptor, &bytes, bytes.count, 0), bytes.count)
        return bytes
    }

    func test_a_blob_stays_open_between_requests_and_is_opened_again_once_its_file_is_gone() throws {
        let bytes: [UInt8] = Array("layer bytes".utf8)
        let digest = Digest.sha256(of: bytes)
        try store.storeBlob(bytes, digest: digest)
        let cache = OpenBlobCache()
        let first = try XCTUnwrap(cache.open(digest, in: store))
        let second = try XCTUnwrap(cache.open(digest, in: store))
        XCTAssertTrue(first.file === second.file, "the second request reuses the open file")
        XCTAssertEqual(contents(second.file, second.size), bytes)

        // Garbage collection removes the blob: the open file has no link left and is not served.
        XCTAssertEqual(unlink(store.path(.blobData(digest))), 0)
        XCTAssertNil(cache.open(digest, in: store))

        try store.storeBlob(bytes, digest: digest)
        let third = try XCTUnwrap(cache.open(digest, in: store))
        XCTAssertFalse(third.file === first.file)
        XCTAssertEqual(contents(third.file, third.size), bytes)
    }

    func test_files_unused_for_a_whole_sweep_interval_are_closed() throws {
        let bytes: [UInt8] = Array("another layer".utf8)
        let digest = Digest.sha256(of: bytes)
        try store.storeBlob(bytes, digest: digest)
        let cache = OpenBlobCache()
        weak let opened = cache.open(digest, in: store)?.file
        XCTAssertNotNil(opened)
        cache.sweep()
        XCTAssertNotNil(opened, "used since the last sweep: kept")
        cache.sweep()
        XCTAssertNil(opened, "unused for a whole interval: closed")
    }
}
