import XCTest
@testable import BerthBench

final class CompareReportTests: XCTestCase {
    private func report(requests: Int, seconds: UInt64) -> ScenarioReport {
        var result = RunResult()
        result.requests = requests
        result.operations = requests
        result.elapsedNanoseconds = seconds * 1_000_000_000
        result.latency.record(2_000)
        return ScenarioReport(name: "manifest-get", seedRequests: 5, result: result)
    }

    private var comparison: CompareReport {
        CompareReport(first: [report(requests: 100, seconds: 1)], second: [report(requests: 300, seconds: 2)])
    }

    func test_json_holds_both_runs_and_the_ratios_b_over_a() throws {
        let first = try BenchCommand.parse(["--compare", "http://b:2", "http://a:1"]).settings()
        XCTAssertEqual(first.compare, BenchTarget(host: "b", port: 2))
        var second = first
        second.target = first.compare!
        let text = comparison.json(first, second: second)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let runs = try XCTUnwrap(document["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.map { $0["target"] as? String }, ["http://a:1/", "http://b:2/"])
        let ratio = try XCTUnwrap((document["ratios"] as? [[String: Any]])?.first)
        XCTAssertEqual(ratio["name"] as? String, "manifest-get")
        XCTAssertEqual(ratio["requests_per_second"] as? Double, 1.5)
        XCTAssertEqual(ratio["latency_p50_us"] as? Double, 1)
        XCTAssertTrue(ratio["errors"] is NSNull, "no ratio over zero errors")
        XCTAssertTrue(ratio["images_per_second"] is NSNull, "not a pull-image run")
    }

    func test_csv_has_a_line_for_a_for_b_and_their_ratio() {
        let lines = comparison.csv().split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines[0].hasPrefix("target,scenario,requests,"))
        XCTAssertTrue(lines[1].hasPrefix("A,manifest-get,100,") && lines[2].hasPrefix("B,manifest-get,300,"))
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let ratio = Dictionary(uniqueKeysWithValues: zip(header, lines[3].split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        XCTAssertEqual(ratio["target"], "B/A")
        XCTAssertEqual(ratio["requests_per_second"], "1.5000")
        XCTAssertEqual(ratio["requests"], "")
    }

    func test_text_shows_the_figures_side_by_side() throws {
        let settings = try BenchCommand.parse(["--compare", "http://b:2", "http://a:1"]).settings()
        let text = comparison.text(settings, second: settings.compare!)
        XCTAssertTrue(text.contains("manifest-get  A http://a:1/  B http://b:2/"), text)
        XCTAssertNotNil(text.range(of: #"requests_per_second +100\.0 +150\.0 +1\.50"#, options: .regularExpression), text)
    }
}
