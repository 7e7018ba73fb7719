import XCTest
@testable import BerthBench

final class SyntheticContentTests: XCTestCase {
    func test_stream_zero_of_seed_zero_is_splitmix64s_published_first_output() {
        // SplitMix64 from state 0: first output 0xE220A8397B1DCDAF, written little-endian.
        XCTAssertEqual(SyntheticContent.bytes(seed: 0, stream: 0, count: 8), [0xAF, 0xCD, 0x1D, 0x7B, 0x39, 0xA8, 0x20, 0xE2])
    }

    func test_the_same_seed_gives_the_same_bytes_and_another_seed_or_stream_others() {
        let a = SyntheticContent.bytes(seed: 42, stream: 3, count: 1001)
        XCTAssertEqual(a, SyntheticContent.bytes(seed: 42, stream: 3, count: 1001))
        XCTAssertEqual(a.count, 1001)
        XCTAssertNotEqual(a, SyntheticContent.bytes(seed: 43, stream: 3, count: 1001))
        XCTAssertNotEqual(a, SyntheticContent.bytes(seed: 42, stream: 4, count: 1001))
        XCTAssertEqual(Array(a.prefix(100)), SyntheticContent.bytes(seed: 42, stream: 3, count: 100), "a shorter blob is a prefix")
    }

    func test_the_image_is_a_function_of_the_seed() throws {
        let image = SyntheticImage(seed: 9, layerSize: 4096)
        XCTAssertEqual(image.manifest.digest, SyntheticImage(seed: 9, layerSize: 4096).manifest.digest)
        XCTAssertNotEqual(image.manifest.digest, SyntheticImage(seed: 10, layerSize: 4096).manifest.digest)
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(image.manifest.bytes)) as? [String: Any])
        let layers = try XCTUnwrap(manifest["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.first?["digest"] as? String, "\(image.layer.digest)")
        XCTAssertEqual(layers.first?["size"] as? Int, 4096)
        XCTAssertEqual((manifest["config"] as? [String: Any])?["digest"] as? String, "\(image.config.digest)")
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(image.config.bytes)))
    }

    func test_sha256_value_compares_digests() {
        let bytes = SyntheticContent.bytes(seed: 1, stream: 1, count: 64)
        XCTAssertEqual(SHA256Value.of(bytes), SHA256Value.of(bytes))
        var changed = bytes
        changed[10] ^= 1
        XCTAssertNotEqual(SHA256Value.of(bytes), SHA256Value.of(changed))
    }
}
