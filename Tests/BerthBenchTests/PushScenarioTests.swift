import XCTest
@testable import BerthBench

final class PushScenarioTests: XCTestCase {
    private func context(size: Int, chunkSize: Int = 4) -> ScenarioContext {
        var context = ScenarioContext(repository: "r", tag: "t", seed: 3, size: size, range: nil, byDigest: false, verify: false,
                                      seedRegistry: true, heads: RequestHead(host: "h", authorization: nil))
        context.chunkSize = chunkSize
        return context
    }

    private func located(_ path: String) -> BenchResponse {
        var response = BenchResponse()
        response.status = 202
        response.location = path
        return response
    }

    private func text(_ request: BenchRequest?) -> String {
        String(decoding: request?.head ?? [], as: UTF8.self)
    }

    func test_a_chunked_push_is_post_then_patches_with_ranges_to_each_location_then_an_empty_put() throws {
        let scenario = PushChunkedScenario(context(size: 10), chunkSize: 4)
        XCTAssertTrue(text(scenario.request(operation: 0, step: 0, after: nil)).hasPrefix("POST /v2/r/blobs/uploads/ HTTP/1.1\r\n"))
        var sizes: [Int] = []
        for (step, range) in [(1, "0-3"), (2, "4-7"), (3, "8-9")] {
            let patch = try XCTUnwrap(scenario.request(operation: 0, step: step, after: located("http://h/v2/r/blobs/uploads/u\(step)")))
            XCTAssertTrue(text(patch).hasPrefix("PATCH /v2/r/blobs/uploads/u\(step) HTTP/1.1\r\n"), text(patch))
            XCTAssertTrue(text(patch).contains("Content-Range: \(range)\r\n"), text(patch))
            XCTAssertTrue(patch.wantsLocation)
            sizes.append(patch.body.count)
        }
        XCTAssertEqual(sizes, [4, 4, 2])
        let put = try XCTUnwrap(scenario.request(operation: 0, step: 4, after: located("/v2/r/blobs/uploads/u4")))
        XCTAssertTrue(text(put).hasPrefix("PUT /v2/r/blobs/uploads/u4?digest=sha256:"), text(put))
        XCTAssertTrue(text(put).contains("Content-Length: 0\r\n") && put.body.isEmpty && put.expected == 201...201)
        XCTAssertNil(scenario.request(operation: 0, step: 5, after: nil))
    }

    func test_a_streamed_push_is_one_patch_of_the_whole_blob_without_a_range() throws {
        let scenario = PushChunkedScenario(context(size: 10), chunkSize: nil)
        XCTAssertEqual(scenario.name, "push-streamed")
        let patch = try XCTUnwrap(scenario.request(operation: 0, step: 1, after: located("/v2/r/blobs/uploads/u")))
        XCTAssertEqual(patch.body.count, 10)
        XCTAssertFalse(text(patch).contains("Content-Range"))
        XCTAssertTrue(text(scenario.request(operation: 0, step: 2, after: located("/v2/r/blobs/uploads/u"))).hasPrefix("PUT "))
    }

    func test_a_mount_names_the_seeded_blob_and_its_source_repository() throws {
        let scenario = MountScenario(context(size: 10))
        let digest = SyntheticBlob(seed: 3, stream: 3000, size: 10).digest
        let post = try XCTUnwrap(scenario.request(operation: 7, step: 0, after: nil))
        XCTAssertTrue(text(post).hasPrefix("POST /v2/r/blobs/uploads/?mount=\(digest)&from=r-source HTTP/1.1\r\n"), text(post))
        XCTAssertEqual(post.expected, 201...201)
        XCTAssertNotNil(scenario.seeding())
    }
}
