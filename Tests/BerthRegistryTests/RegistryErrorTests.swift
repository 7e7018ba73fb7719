@testable import BerthRegistry
import BerthStorage
import Glibc
import XCTest

final class RegistryErrorTests: XCTestCase {
    private func body(_ error: RegistryError) -> String {
        guard case .bytes(let bytes) = error.response().body else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    func test_a_storage_failure_is_answered_without_its_path() {
        let cause = StorageError.system(operation: "write", path: "/srv/berth/data/docker/registry/v2/blobs/x", errno: EIO)
        let error = RegistryError.concealing(cause, "PUT /v2/a/blobs/uploads/1")
        XCTAssertEqual(error.status, 500)
        XCTAssertEqual(error.code, .unknown)
        XCTAssertFalse(body(error).contains("/srv/berth"), body(error))
        XCTAssertTrue(body(error).contains("PUT /v2/a/blobs/uploads/1"), body(error))
    }

    func test_a_full_disk_is_507_without_its_path() {
        let cause = StorageError.system(operation: "write", path: "/srv/berth/data/x", errno: ENOSPC)
        let error = RegistryError.concealing(cause, "PATCH /v2/a/blobs/uploads/1")
        XCTAssertEqual(error.status, 507)
        XCTAssertEqual(error.response().status, 507)
        XCTAssertFalse(body(error).contains("/srv/berth"), body(error))
    }

    /// Was `test_status_override_is_the_status`: the table owns each status, and an upstream's failure has its entry.
    func test_the_status_is_the_entrys() {
        XCTAssertEqual(RegistryError(.upstreamFailed, "x").status, 502)
        XCTAssertEqual(RegistryError(.blobUnknown).status, 404)
    }
}
