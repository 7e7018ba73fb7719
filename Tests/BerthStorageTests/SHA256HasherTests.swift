@testable import BerthStorage
import XCTest

final class SHA256HasherTests: XCTestCase {
    func test_known_digest() {
        XCTAssertEqual(Digest.sha256(of: Array("hello".utf8)).description,
                       "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    }

    func test_exported_state_resumes_at_any_split() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = Digest.sha256(of: bytes)
        for split in [0, 1, 63, 64, 65, 500, 999, 1000] {
            var first = SHA256Hasher()
            bytes[..<split].withUnsafeBytes { first.update($0) }
            let exported = first.exported
            XCTAssertEqual(exported.count, 108)
            XCTAssertEqual(Array(exported.prefix(4)), Array("sha\u{03}".utf8))
            guard var resumed = SHA256Hasher(exported: exported) else { return XCTFail("import failed at \(split)") }
            XCTAssertEqual(resumed.count, Int64(split))
            bytes[split...].withUnsafeBytes { resumed.update($0) }
            XCTAssertEqual(resumed.digest, whole, "split at \(split)")
        }
    }

    func test_peeking_the_digest_does_not_consume_the_state() {
        var hasher = SHA256Hasher()
        Array("hel".utf8).withUnsafeBytes { hasher.update($0) }
        _ = hasher.digest
        Array("lo".utf8).withUnsafeBytes { hasher.update($0) }
        XCTAssertEqual(hasher.digest, Digest.sha256(of: Array("hello".utf8)))
    }

    func test_garbage_is_not_a_state() {
        XCTAssertNil(SHA256Hasher(exported: [1, 2, 3]))
        XCTAssertNil(SHA256Hasher(exported: [UInt8](repeating: 0, count: 108)))
    }
}
