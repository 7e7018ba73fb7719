import XCTest
@testable import BerthBench

final class LatencyHistogramTests: XCTestCase {
    func test_every_value_lands_in_a_bucket_within_a_thousandth_of_itself() {
        var value: UInt64 = 1
        var previousIndex = -1
        while value < 1 << 40 {
            let index = LatencyHistogram.index(of: value)
            XCTAssertGreaterThanOrEqual(index, previousIndex, "buckets are ordered")
            let highest = LatencyHistogram.highestValue(at: index)
            XCTAssertGreaterThanOrEqual(highest, value)
            XCTAssertLessThanOrEqual(Double(highest - value), Double(value) / 1024, "value \(value)")
            XCTAssertLessThan(index, LatencyHistogram.bucketCount)
            previousIndex = index
            value = value * 17 / 16 + 1
        }
        XCTAssertEqual(LatencyHistogram.index(of: 2047) + 1, LatencyHistogram.index(of: 2048))
        XCTAssertEqual(LatencyHistogram.index(of: 4095) + 1, LatencyHistogram.index(of: 4096))
    }

    func test_percentiles_of_one_to_a_hundred_thousand() {
        var histogram = LatencyHistogram()
        for value in 1...100_000 as ClosedRange<UInt64> { histogram.record(value) }
        XCTAssertEqual(histogram.count, 100_000)
        XCTAssertEqual(histogram.min, 1)
        XCTAssertEqual(histogram.max, 100_000)
        for (percent, exact) in [(50.0, 50_000.0), (90, 90_000), (99, 99_000), (99.9, 99_900)] {
            let reported = Double(histogram.value(atPercentile: percent))
            XCTAssertGreaterThanOrEqual(reported, exact, "p\(percent)")
            XCTAssertLessThanOrEqual(reported, exact * (1 + 1.0 / 1024), "p\(percent)")
        }
        XCTAssertEqual(histogram.value(atPercentile: 100), 100_000)
    }

    func test_a_single_value_is_every_percentile_and_huge_values_are_kept() {
        var histogram = LatencyHistogram()
        histogram.record(123_456_789)
        XCTAssertEqual(histogram.value(atPercentile: 50), 123_456_789, "clamped to the exact max")
        XCTAssertEqual(histogram.value(atPercentile: 0), 123_456_789, "and to the exact min")
        histogram.record(UInt64.max / 2)
        XCTAssertEqual(histogram.count, 2)
        XCTAssertEqual(LatencyHistogram().value(atPercentile: 99), 0)
    }

    func test_merging_adds_counts() {
        var a = LatencyHistogram()
        var b = LatencyHistogram()
        a.record(10)
        b.record(30_000)
        a.add(b)
        XCTAssertEqual(a.count, 2)
        XCTAssertEqual(a.min, 10)
        XCTAssertEqual(a.max, 30_000)
        XCTAssertEqual(a.value(atPercentile: 50), 10)
    }
}
