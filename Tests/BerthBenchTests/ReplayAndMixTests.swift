import XCTest
@testable import BerthBench

/// The pure parts of replay, mix, mirror-cold's upstream counting and the SVG chart: no sockets.
final class ReplayAndMixTests: XCTestCase {
    private func context() -> ScenarioContext {
        ScenarioContext(repository: "r", tag: "t", seed: 3, size: 64, range: nil, byDigest: false, verify: false,
                        seedRegistry: true, heads: RequestHead(host: "h", authorization: nil))
    }

    func testJSONLinesAndIBMRecordsParseSortedAndRelative() throws {
        let lines = """
            {"timestamp": 10.5, "method": "get", "uri": "/v2/a/blobs/sha256:1", "size": 7}
            {"timestamp": 10.0, "method": "PUT", "uri": "/v2/a/manifests/t", "size": 3}
            """
        XCTAssertEqual(try TraceRecord.parse(lines), [TraceRecord(seconds: 0, method: "PUT", uri: "/v2/a/manifests/t", size: 3),
                                                      TraceRecord(seconds: 0.5, method: "GET", uri: "/v2/a/blobs/sha256:1", size: 7)])
        let ibm = """
            [{"http.request.method": "GET", "http.request.uri": "v2/x/y/blobs/sha256:2", "http.response.written": 9,
              "timestamp": "2017-06-20T07:00:01.250Z", "host": "h"},
             {"http.request.method": "PUT", "http.request.uri": "v2/x/y/blobs/uploads/u", "http.response.written": 4,
              "timestamp": "2017-06-20T07:00:00.000Z"}]
            """
        let records = try TraceRecord.parse(ibm)
        XCTAssertEqual(records.map(\.seconds), [0, 1.25])
        XCTAssertEqual(records.map(\.kind), [.blobUpload, .blobRead])
        XCTAssertEqual(records[1].uri, "/v2/x/y/blobs/sha256:2")
        XCTAssertThrowsError(try TraceRecord.parse("{\"method\": \"GET\"}"))
        XCTAssertThrowsError(try TraceRecord.parse("not json"))
    }

    func testReplayPlansReadsUploadsAndSkipsTheRest() throws {
        let records = try TraceRecord.parse("""
            {"timestamp": 0, "method": "GET", "uri": "/v2/a/blobs/sha256:1", "size": 10}
            {"timestamp": 1, "method": "HEAD", "uri": "/v2/a/blobs/sha256:1", "size": 0}
            {"timestamp": 2, "method": "GET", "uri": "/v2/a/blobs/sha256:2", "size": 30}
            {"timestamp": 3, "method": "PUT", "uri": "/v2/a/blobs/uploads/x", "size": 5}
            {"timestamp": 4, "method": "DELETE", "uri": "/v2/a/manifests/sha256:3", "size": 0}
            """)
        XCTAssertEqual(ReplayScenario.contentBytes(records), 10 + 30 + 5)
        let replay = ReplayScenario(context(), records: records, speed: 1000)
        XCTAssertEqual(replay.operationLimit, 4)
        XCTAssertEqual(replay.counters.first { $0.0 == "skipped" }?.1, 1)
        XCTAssertTrue(replay.isPaced && replay.hasWorkPending)
        XCTAssertEqual(String(decoding: replay.request(operation: 0, step: 0, after: nil)!.head.prefix(3), as: UTF8.self), "GET")
    }

    func testMixWeightsParseAndTheDrawFollowsThemAndTheSeed() {
        guard case .success(let pairs) = MixScenario.parse("pull:70,push:20,delete:10", known: ScenarioCatalog.mixable) else {
            return XCTFail("the issue's example does not parse")
        }
        XCTAssertEqual(pairs.map(\.0), ["blob-get", "push-monolithic", "delete-manifest"])
        for bad in ["pull", "pull:0", "fly:3", "pull-image:1", ""] {
            guard case .failure = MixScenario.parse(bad, known: ScenarioCatalog.mixable) else { return XCTFail(bad) }
        }
        let context = context()
        let components = pairs.map { ($0.0, ScenarioCatalog.make($0.0, context)!, $0.1) }
        let mix = MixScenario(components: components, seed: 9)
        var drawn = [0, 0, 0]
        for operation in 0..<10_000 { drawn[mix.component(of: operation)] += 1 }
        XCTAssertEqual(Double(drawn[0]) / 10_000, 0.7, accuracy: 0.03)
        XCTAssertEqual(Double(drawn[2]) / 10_000, 0.1, accuracy: 0.02)
        let again = MixScenario(components: components, seed: 9)
        XCTAssertEqual((0..<100).map(mix.component(of:)), (0..<100).map(again.component(of:)))
    }

    func testUpstreamBooksAreReadFromMetricsAndCombinedLogLines() {
        XCTAssertEqual(UpstreamFetchCounter.blobPulls(inMetrics: "# TYPE berth_blob_pulls_total counter\nberth_blob_pulls_total 12\n"), 12)
        XCTAssertNil(UpstreamFetchCounter.blobPulls(inMetrics: "berth_blob_pulls_totally 3\n"))
        let log = """
            127.0.0.1 - - [02/Dec/2026:03:00:00 +0000] "GET /v2/b/blobs/sha256:ab HTTP/1.1" 200 5 "" "berth"
            time="x" level=info msg="response completed" http.request.method=GET http.request.uri="/v2/b/blobs/sha256:ab"
            127.0.0.1 - - [02/Dec/2026:03:00:00 +0000] "HEAD /v2/b/blobs/sha256:ab HTTP/1.1" 200 0 "" "berth"
            127.0.0.1 - - [02/Dec/2026:03:00:01 +0000] "GET /v2/b/blobs/sha256:cd HTTP/1.1" 200 5 "" "berth"
            """
        XCTAssertEqual(UpstreamFetchCounter.gets(of: "sha256:ab", inLog: log), 1)
    }

    func testTheChartCurveRunsFromTheMinimumToTheMaximumAndRatesArePerInterval() {
        var histogram = LatencyHistogram()
        for value in 1...1000 { histogram.record(UInt64(value) * 1_000_000) }
        let curve = BenchChart.percentileCurve(histogram)
        XCTAssertEqual(curve.first?.1 ?? 0, 1, accuracy: 0.01)
        XCTAssertEqual(curve.last?.1 ?? 0, 1000, accuracy: 0.01)
        XCTAssertEqual(curve.last?.0 ?? 0, 3, accuracy: 1e-9)
        XCTAssertEqual(BenchChart.rates([(requests: 10, bytes: 0), (requests: 30, bytes: 0)]).map(\.1), [40, 80])
        XCTAssertTrue(BenchChart.svg([]).hasPrefix("<svg"))
    }
}
