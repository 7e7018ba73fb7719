@testable import BerthRegistry
import XCTest

final class MetricsAggregationTests: XCTestCase {
    func test_series_with_equal_labels_are_summed_and_families_keep_one_header() {
        let a = """
        # HELP requests_total Requests.
        # TYPE requests_total counter
        requests_total{route="blob",status="200"} 3
        requests_total{route="manifest",status="404"} 1
        # HELP open_connections Open.
        # TYPE open_connections gauge
        open_connections 2
        """
        let b = """
        # HELP requests_total Requests.
        # TYPE requests_total counter
        requests_total{route="blob",status="200"} 4
        requests_total{route="tags",status="200"} 5
        # HELP open_connections Open.
        # TYPE open_connections gauge
        open_connections 1
        """
        XCTAssertEqual(MetricsAggregation.merge([a, b]), """
        # HELP requests_total Requests.
        # TYPE requests_total counter
        requests_total{route="blob",status="200"} 7
        requests_total{route="manifest",status="404"} 1
        requests_total{route="tags",status="200"} 5
        # HELP open_connections Open.
        # TYPE open_connections gauge
        open_connections 3

        """)
    }

    func test_fractional_sums_stay_fractional() {
        let text = "# HELP d Seconds.\n# TYPE d histogram\nd_sum{route=\"blob\"} 0.25\n"
        XCTAssertEqual(MetricsAggregation.merge([text, text]), "# HELP d Seconds.\n# TYPE d histogram\nd_sum{route=\"blob\"} 0.5\n")
    }
}
