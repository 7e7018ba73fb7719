@testable import BerthUI
import XCTest

final class SVGChartTests: XCTestCase {
    func test_bars_share_the_width_and_the_largest_reaches_the_top_of_the_plot() {
        let chart = SVGChart(width: 100, height: 64)
        let bars = chart.bars([0, 5, 10, 2.5])
        XCTAssertEqual(bars.count, 4)
        XCTAssertEqual(bars[0], .init(x: 2.5, y: 64, width: 20, height: 0))
        XCTAssertEqual(bars[2].height, 50, accuracy: 1e-9)
        XCTAssertEqual(bars[2].y, 14, accuracy: 1e-9)
        XCTAssertEqual(bars[1].height, 25, accuracy: 1e-9)
        XCTAssertEqual(bars[3].x, 77.5, accuracy: 1e-9)
        XCTAssertEqual(bars[3].height, 12.5, accuracy: 1e-9)
    }

    func test_all_zero_or_empty_draws_no_height_and_negatives_count_as_zero() {
        let chart = SVGChart(width: 60, height: 40)
        XCTAssertEqual(chart.bars([0, 0]).map(\.height), [0, 0])
        XCTAssertEqual(chart.bars([]), [])
        XCTAssertEqual(chart.bars([-3, 6]).map(\.height), [0, 26])
    }

    func test_svg_numbers_and_escaped_text() {
        let svg = SVGChart(width: 30, height: 20).svg([1, 2, 3], title: "<x>") { "\($0) <b>" }
        XCTAssertTrue(svg.hasPrefix("<svg "))
        XCTAssertTrue(svg.contains("<title>&lt;x&gt;</title>"))
        XCTAssertTrue(svg.contains("max 3.0 &lt;b&gt;"))
        XCTAssertEqual(svg.components(separatedBy: "<rect ").count - 1, 3)
        XCTAssertEqual(SVGChart.number(12.3456), "12.35")
        XCTAssertEqual(SVGChart.number(7), "7")
        XCTAssertEqual(SVGChart.number(0.05), "0.05")
    }
}

final class MetricsHistoryTests: XCTestCase {
    func test_each_minute_is_the_difference_of_the_totals() {
        var history = MetricsHistory()
        history.record(minute: 100, totals: .init(requests: 10, sentBytes: 1000))
        XCTAssertEqual(history.minutes, [])
        history.record(minute: 101, totals: .init(requests: 25, sentBytes: 1500))
        history.record(minute: 101, totals: .init(requests: 99, sentBytes: 9999))
        history.record(minute: 102, totals: .init(requests: 40, sentBytes: 2100))
        XCTAssertEqual(history.minutes, [.init(minute: 101, requests: 15, sentBytes: 500), .init(minute: 102, requests: 15, sentBytes: 600)])
    }

    func test_a_counter_that_went_down_counts_from_zero_and_a_gap_is_spread() {
        var history = MetricsHistory()
        history.record(minute: 10, totals: .init(requests: 50, sentBytes: 50))
        history.record(minute: 11, totals: .init(requests: 4, sentBytes: 8))
        XCTAssertEqual(history.minutes.last, .init(minute: 11, requests: 4, sentBytes: 8))
        history.record(minute: 14, totals: .init(requests: 10, sentBytes: 20))
        XCTAssertEqual(history.minutes.suffix(3).map(\.minute), [12, 13, 14])
        XCTAssertEqual(history.minutes.suffix(3).map(\.requests), [2, 2, 2])
    }

    func test_only_the_last_hour_is_kept() {
        var history = MetricsHistory()
        for minute in 0...200 { history.record(minute: minute, totals: .init(requests: Double(minute * 2), sentBytes: 0)) }
        XCTAssertEqual(history.minutes.count, 60)
        XCTAssertEqual(history.minutes.first?.minute, 141)
        XCTAssertEqual(history.minutes.last?.minute, 200)
        history.record(minute: 10_000, totals: .init(requests: 400, sentBytes: 0))
        XCTAssertEqual(history.minutes.count, 60)
        XCTAssertEqual(history.minutes.last?.minute, 10_000)
    }
}

final class MetricsSampleTests: XCTestCase {
    func test_series_and_family_sums_with_label_filters() {
        let sample = MetricsSample(exposition: """
        # HELP berth_http_requests_total Requests.
        berth_http_requests_total{method="GET",route="manifest",status="200"} 5
        berth_http_requests_total{method="GET",route="ui_page",status="200"} 3
        berth_http_requests_total{method="GET",route="ui_asset",status="304"} 2
        berth_http_requests_total_other 100
        berth_mirror_cache_hits_total{kind="blob"} 7
        berth_gc_runs_total 2
        """)
        XCTAssertEqual(sample.sum("berth_http_requests_total"), 10)
        XCTAssertEqual(sample.sum("berth_http_requests_total", excluding: ["route=\"ui_page\"", "route=\"ui_asset\""]), 5)
        XCTAssertEqual(sample.sum("berth_http_requests_total", matching: ["route=\"ui_page\""]), 3)
        XCTAssertEqual(sample["berth_mirror_cache_hits_total{kind=\"blob\"}"], 7)
        XCTAssertEqual(sample["berth_gc_runs_total"], 2)
        XCTAssertEqual(sample["missing"], 0)
    }
}

final class DocumentTests: XCTestCase {
    func test_an_index_with_platforms_and_an_image_config() throws {
        let index = ManifestDocument(Array("""
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":10,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":11,"platform":{"os":"linux","architecture":"amd64"}}],
        "annotations":{"b":"2","a":"<1>","n":3}}
        """.utf8))
        XCTAssertEqual(index?.isIndex, true)
        XCTAssertEqual(index?.manifests.map(\.platform), ["linux/arm64/v8", "linux/amd64"])
        XCTAssertEqual(index?.annotations.map(\.key), ["a", "b"])
        let config = ImageConfigDocument(Array("""
        {"architecture":"amd64","os":"linux","created":"2026-01-02T03:04:05Z","config":{"Entrypoint":["/bin/app","--flag"],"Cmd":["a b"],"Env":["X=1"],
        "Labels":{"z":"last","a":"<script>"},"ExposedPorts":{"80/tcp":{}}},"history":[{"created_by":"RUN x","empty_layer":true}]}
        """.utf8))
        XCTAssertEqual(config?.platform, "linux/amd64")
        XCTAssertEqual(config?.labels.map(\.key), ["a", "z"])
        XCTAssertEqual(config?.exposedPorts, ["80/tcp"])
        XCTAssertEqual(config?.history.first?.emptyLayer, true)
        XCTAssertEqual(ImageConfigDocument.commandLine(config?.cmd ?? []), "\"a b\"")
        XCTAssertEqual(TimeText.config("2026-01-02T03:04:05.123Z"), "2026-01-02 03:04 UTC")
        XCTAssertEqual(TimeText.config("yesterday"), "yesterday")
        XCTAssertNil(ManifestDocument(Array("not json".utf8)))
    }
}
