import XCTest
@testable import BerthBench

final class PullImageScenarioTests: XCTestCase {
    private func scenario(images: Int?, concurrency: Int = 4) -> PullImageScenario {
        let context = ScenarioContext(repository: "r", tag: "t", seed: 9, size: 10, range: nil, byDigest: false, verify: true,
                                      seedRegistry: true, heads: RequestHead(host: "h", authorization: nil))
        return PullImageScenario(context, layers: 3, layerSize: 100, images: images, concurrency: concurrency)
    }

    private func target(_ request: BenchRequest?) -> String {
        String(decoding: request?.head ?? [], as: UTF8.self).split(separator: " ").dropFirst().first.map(String.init) ?? "nil"
    }

    private let ok = BenchResponse()

    func test_index_then_manifest_then_config_one_after_another_then_every_layer_at_once() {
        let pull = scenario(images: 1)
        let image = SyntheticIndex(seed: 9, layers: 3, layerSize: 100)
        XCTAssertEqual(target(pull.request(operation: 0, step: 0, after: nil)), "/v2/r/manifests/t")
        XCTAssertNil(pull.request(operation: 1, step: 0, after: nil), "the manifest waits for the index")
        XCTAssertTrue(pull.hasWorkPending)
        XCTAssertNil(pull.request(operation: 0, step: 1, after: ok))
        XCTAssertEqual(target(pull.request(operation: 2, step: 0, after: nil)), "/v2/r/manifests/\(image.manifests[0].digest)")
        XCTAssertNil(pull.request(operation: 2, step: 1, after: ok))
        XCTAssertEqual(target(pull.request(operation: 3, step: 0, after: nil)), "/v2/r/blobs/\(image.configs[0].digest)")
        XCTAssertNil(pull.request(operation: 3, step: 1, after: ok))
        let layers = (4...6).map { target(pull.request(operation: $0, step: 0, after: nil)) }
        XCTAssertEqual(layers, image.layers.map { "/v2/r/blobs/\($0.digest)" })
        XCTAssertNil(pull.request(operation: 7, step: 0, after: nil), "one image only")
        for operation in 4...6 { XCTAssertNil(pull.request(operation: operation, step: 1, after: ok)) }
        XCTAssertEqual(pull.images.count, 1)
        XCTAssertFalse(pull.hasWorkPending)
        XCTAssertNil(pull.request(operation: 8, step: 0, after: nil))
    }

    func test_a_failed_request_fails_its_image_which_is_not_timed() {
        let pull = scenario(images: 2)
        _ = pull.request(operation: 0, step: 0, after: nil)
        pull.failed(operation: 0)
        XCTAssertEqual(pull.failedImages, 1)
        XCTAssertEqual(pull.images.count, 0)
        XCTAssertEqual(target(pull.request(operation: 1, step: 0, after: nil)), "/v2/r/manifests/t", "the next image starts")
    }

    func test_more_connections_than_layers_pull_several_images_at_once() {
        let pull = scenario(images: nil, concurrency: 8)
        XCTAssertEqual(target(pull.request(operation: 0, step: 0, after: nil)), "/v2/r/manifests/t")
        XCTAssertEqual(target(pull.request(operation: 1, step: 0, after: nil)), "/v2/r/manifests/t")
        XCTAssertNil(pull.request(operation: 2, step: 0, after: nil), "8 connections / 3 layers: two images in flight")
    }

    func test_the_index_names_both_platforms_and_the_manifests_every_layer() throws {
        let image = SyntheticIndex(seed: 9, layers: 3, layerSize: 100)
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(image.index.bytes)) as? [String: Any])
        let entries = try XCTUnwrap(index["manifests"] as? [[String: Any]])
        XCTAssertEqual(entries.map { ($0["platform"] as? [String: String])?["architecture"] }, ["amd64", "arm64"])
        XCTAssertEqual(entries.map { $0["digest"] as? String }, image.manifests.map { "\($0.digest)" })
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(image.manifests[0].bytes)) as? [String: Any])
        XCTAssertEqual((manifest["layers"] as? [[String: Any]])?.count, 3)
        XCTAssertEqual(SyntheticIndex(seed: 9, layers: 3, layerSize: 100).index.digest, image.index.digest)
    }
}
