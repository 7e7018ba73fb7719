@testable import BerthRegistry
import BerthHTTP
import XCTest

/// What every request adds to the metrics: its (method, route, status) count, the latency histogram
/// Prometheus reads as cumulative buckets, and the pull and push counters of the routes that have them.
final class RequestTallyTests: XCTestCase {
    private func record(_ tally: inout RequestTally, _ method: HTTPMethod, _ route: String, _ status: Int, seconds: Double = 0.0001) {
        tally.record(method: method, route: route, status: status, path: "/v2/a/manifests/v1", received: 0, sent: 0,
                     tlsFallbackBody: 0, seconds: seconds)
    }

    func test_a_request_falls_in_the_first_bucket_whose_bound_holds_it() {
        XCTAssertEqual(RequestTally.bucket(of: 0), 0)
        XCTAssertEqual(RequestTally.bucket(of: 0.0005), 0, "a bound holds its own value (le)")
        XCTAssertEqual(RequestTally.bucket(of: 0.00051), 1)
        XCTAssertEqual(RequestTally.bucket(of: 10), RequestTally.latencyBuckets.count - 1)
        XCTAssertEqual(RequestTally.bucket(of: 11), RequestTally.latencyBuckets.count, "above every bound: only +Inf")
    }

    func test_the_buckets_are_cumulative_as_prometheus_reads_them() {
        var tally = RequestTally()
        for seconds in [0.0001, 0.0003, 0.002, 0.3, 20] { record(&tally, .get, "manifest", 200, seconds: seconds) }
        let histogram = tally.latency[0]
        XCTAssertEqual(histogram.count, 5)
        XCTAssertEqual(histogram.buckets, [2, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4])
        XCTAssertEqual(histogram.sum, 20.3024, accuracy: 1e-9)
    }

    func test_pulls_and_pushes_are_counted_by_method_route_and_status() {
        var tally = RequestTally()
        record(&tally, .get, "manifest", 200)
        record(&tally, .head, "manifest", 200)
        record(&tally, .get, "manifest", 304)
        record(&tally, .get, "blob", 200)
        record(&tally, .get, "blob", 206)
        record(&tally, .head, "blob", 200)
        record(&tally, .post, "uploads", 201)
        record(&tally, .put, "upload", 201)
        record(&tally, .post, "upload", 201)
        record(&tally, .put, "manifest", 201)
        record(&tally, .put, "manifest", 400)
        XCTAssertEqual(tally.manifestPulls, 1)
        XCTAssertEqual(tally.blobPulls, 2)
        XCTAssertEqual(tally.blobUploads, 2)
        XCTAssertEqual(tally.manifestPushes, 1)
        XCTAssertEqual(tally.requestKeys.count, 11)
        XCTAssertEqual(tally.requestCounts, Array(repeating: 1, count: 11))
        record(&tally, .get, "manifest", 200)
        XCTAssertEqual(tally.requestCounts[0], 2)
        XCTAssertEqual(tally.latencyRoutes, ["manifest", "blob", "uploads", "upload"])
    }
}
