import XCTest
@testable import BerthBench

final class BenchCommandTests: XCTestCase {
    private func settings(_ arguments: [String]) throws -> BenchSettings {
        try BenchCommand.parse(arguments).settings()
    }

    func test_scenarios_come_before_the_url_and_options_anywhere() throws {
        let parsed = try settings(["manifest-head", "--concurrency", "4", "blob-get", "--requests", "100", "http://127.0.0.1:5000",
                                   "--size", "4k", "--range", "0-99", "--seed", "7", "--by-digest", "--verify", "--output", "json"])
        XCTAssertEqual(parsed.scenarios, ["manifest-head", "blob-get"])
        XCTAssertEqual(parsed.target, BenchTarget(host: "127.0.0.1", port: 5000))
        XCTAssertEqual(parsed.concurrency, 4)
        XCTAssertEqual(parsed.stop, .operations(100))
        XCTAssertEqual(parsed.size, 4096)
        XCTAssertEqual(parsed.range, 0...99)
        XCTAssertEqual(parsed.seed, 7)
        XCTAssertTrue(parsed.byDigest && parsed.verify && parsed.seedRegistry)
        XCTAssertEqual(parsed.output, .json)
    }

    func test_defaults_are_manifest_get_for_ten_seconds_on_sixteen_connections() throws {
        let parsed = try settings(["http://localhost:5000/"])
        XCTAssertEqual(parsed.scenarios, ["manifest-get"])
        XCTAssertEqual(parsed.stop, .duration(milliseconds: 10_000))
        XCTAssertEqual(parsed.concurrency, 16)
        XCTAssertEqual(parsed.repository, "bench")
        XCTAssertEqual(parsed.tag, "latest")
        XCTAssertNil(parsed.authorization)
        XCTAssertEqual(parsed.timeoutMilliseconds, 30_000)
    }

    func test_user_becomes_a_basic_authorization() throws {
        let parsed = try settings(["--user", "alice:s3cret", "--duration", "500ms", "http://h:1"])
        XCTAssertEqual(parsed.authorization, "Basic YWxpY2U6czNjcmV0")
        XCTAssertEqual(parsed.stop, .duration(milliseconds: 500))
        XCTAssertTrue(RequestHead(host: "h:1", authorization: parsed.authorization).commonLines.contains("Authorization: Basic YWxpY2U6czNjcmV0\r\n"))
    }

    func test_usage_mistakes_are_refused() {
        for arguments in [
            ["manifest-get"],  // no URL
            ["nonsense", "http://h:1"],
            ["--cacert", "/nonexistent/ca.pem", "https://h:1"],
            ["https:/h:1"],
            ["http://h:1/v2/"],
            ["--duration", "1s", "--requests", "5", "http://h:1"],
            ["--requests", "0", "http://h:1"],
            ["--concurrency", "0", "http://h:1"],
            ["--size", "1x", "http://h:1"],
            ["--size", "100", "--range", "50-100", "http://h:1"],
            ["--range", "9-3", "http://h:1"],
            ["--user", "nocolon", "http://h:1"],
            ["--repo", "Upper", "http://h:1"],
            ["--timeout", "soon", "http://h:1"],
        ] {
            XCTAssertThrowsError(try BenchCommand.parse(arguments), "\(arguments)")
        }
    }

    func test_targets_parse_host_port_and_ipv6() {
        XCTAssertEqual(BenchTarget(url: "http://[::1]:8080"), BenchTarget(host: "::1", port: 8080))
        XCTAssertEqual(BenchTarget(url: "http://example.com"), BenchTarget(host: "example.com", port: 80))
        XCTAssertEqual(BenchTarget(host: "::1", port: 8080).authority, "[::1]:8080")
        XCTAssertNil(BenchTarget(url: "http://h:0"))
        XCTAssertNil(BenchTarget(url: "ftp://h:1"))
    }

    func test_https_targets_default_to_443_and_take_cacert_or_insecure() throws {
        XCTAssertEqual(BenchTarget(url: "https://example.com"), BenchTarget(host: "example.com", port: 443, isTLS: true))
        XCTAssertEqual(BenchTarget(url: "https://example.com:443/")?.url, "https://example.com/")
        XCTAssertEqual(BenchTarget(url: "https://[::1]:5443")?.url, "https://[::1]:5443/")
        XCTAssertEqual(BenchTarget(url: "http://h:80")?.url, "http://h/")
        let strict = try settings(["https://h:5443"])
        XCTAssertTrue(strict.target.isTLS && strict.tls.verifyCertificates && strict.tls.caFile == nil)
        let trusting = try settings(["--cacert", "/dev/null", "https://h:5443"])
        XCTAssertEqual(trusting.tls.caFile, "/dev/null")
        XCTAssertFalse(try settings(["--insecure", "https://h:5443"]).tls.verifyCertificates)
    }

    func test_a_token_line_goes_right_after_the_request_line() {
        let head = RequestHead(host: "h:1", authorization: nil).make("GET", "/v2/a/manifests/t", headers: ["Accept: x"])
        let line = Array("Authorization: Bearer abc\r\n".utf8)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: head.count + line.count, alignment: 8)
        defer { out.deallocate() }
        RequestHead.insert(line, into: head, at: out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       "GET /v2/a/manifests/t HTTP/1.1\r\nAuthorization: Bearer abc\r\nHost: h:1\r\nUser-Agent: berth-bench\r\nAccept: x\r\n\r\n")
    }

    func test_requests_take_the_pull_token_for_reads_and_the_push_token_for_writes() {
        let heads = RequestHead(host: "h", authorization: nil)
        XCTAssertEqual(BenchRequest(head: heads.make("GET", "/v2/a/blobs/x")).authSlot, .pull)
        XCTAssertEqual(BenchRequest(head: heads.make("HEAD", "/v2/a/manifests/t")).authSlot, .pull)
        XCTAssertEqual(BenchRequest(head: heads.make("POST", "/v2/a/blobs/uploads/")).authSlot, .push)
        XCTAssertEqual(BenchRequest(head: heads.make("PUT", "/v2/a/manifests/t")).authSlot, .push)
        XCTAssertEqual(BenchRequest(head: heads.make("GET", "/v2/_catalog"), authSlot: .catalog).authSlot, .catalog)
    }

    func test_under_bearer_the_heads_carry_no_basic_credentials() throws {
        let parsed = try settings(["--user", "alice:s3cret", "http://h:1"])
        XCTAssertTrue(parsed.context().heads.commonLines.contains("Authorization: Basic"))
        XCTAssertFalse(parsed.context(bearer: true).heads.commonLines.contains("Authorization"))
        XCTAssertEqual(parsed.user, "alice:s3cret")
    }

    func test_sizes_and_durations() {
        XCTAssertEqual(ByteSize.parse("1M"), 1 << 20)
        XCTAssertEqual(ByteSize.parse("512k"), 512 << 10)
        XCTAssertEqual(ByteSize.parse("10MiB"), 10 << 20)
        XCTAssertEqual(ByteSize.parse("123"), 123)
        XCTAssertNil(ByteSize.parse("M"))
        XCTAssertEqual(ByteSize.milliseconds("2m"), 120_000)
        XCTAssertEqual(ByteSize.milliseconds("1.5"), 1500)
        XCTAssertNil(ByteSize.milliseconds("0"))
    }

    func test_upload_put_target_keeps_the_location_path_and_query() {
        let digest = SyntheticBlob(bytes: [1]).digest
        XCTAssertEqual(BlobUpload.target(location: "http://r:5000/v2/a/blobs/uploads/u1?_state=x", digest: digest),
                       "/v2/a/blobs/uploads/u1?_state=x&digest=\(digest)")
        XCTAssertEqual(BlobUpload.target(location: "/v2/a/blobs/uploads/u1", digest: digest), "/v2/a/blobs/uploads/u1?digest=\(digest)")
    }

    func test_json_report_is_json_with_the_counts() throws {
        var result = RunResult()
        result.requests = 10
        result.operations = 8
        result.errorsByStatus[404] = 1
        result.digestMismatches = 1
        result.elapsedNanoseconds = 2_000_000_000
        for value in [1_000, 2_000, 3_000] as [UInt64] { result.latency.record(value) }
        let settings = try settings(["--requests", "10", "http://h:1"])
        let text = ScenarioReport.json([ScenarioReport(name: "manifest-get", seedRequests: 5, result: result)], settings: settings)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let scenario = try XCTUnwrap((document["scenarios"] as? [[String: Any]])?.first)
        XCTAssertEqual(scenario["requests"] as? Int, 10)
        XCTAssertEqual(scenario["seed_requests"] as? Int, 5)
        XCTAssertEqual(scenario["requests_per_second"] as? Double, 5)
        XCTAssertEqual(scenario["errors"] as? [String: Int], ["404": 1, "digest": 1])
        let latency = try XCTUnwrap(scenario["latency_us"] as? [String: Double])
        XCTAssertEqual(latency["min"], 1)
        XCTAssertEqual(latency["max"], 3)
        XCTAssertEqual(latency["p50"], 2)
    }

    func test_csv_report_has_a_header_and_a_line_per_scenario() throws {
        var result = RunResult()
        result.requests = 4
        result.operations = 4
        result.errorsByStatus[500] = 2
        result.connectionErrors = 1
        result.elapsedNanoseconds = 1_000_000_000
        result.latency.record(5_000)
        let lines = ScenarioReport.csv([ScenarioReport(name: "catalog", seedRequests: 0, result: result)]).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0], "scenario,requests,operations,failed_operations,seconds,requests_per_second,bytes_per_second,errors,"
                       + "latency_min_us,latency_p50_us,latency_p90_us,latency_p99_us,latency_p99.9_us,latency_max_us")
        XCTAssertEqual(lines[1], "catalog,4,4,0,1.000000,4.0,0.0,500=2;connection=1,5.000,5.000,5.000,5.000,5.000,5.000")
    }
}
