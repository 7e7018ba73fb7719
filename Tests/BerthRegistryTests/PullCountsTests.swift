@testable import BerthRegistry
import XCTest

final class PullCountsTests: XCTestCase {
    func test_counts_per_path_summed_over_workers_most_first() {
        var one = PullCounts(), two = PullCounts()
        for _ in 0..<3 { one.count("/v2/team/app/manifests/v1") }
        two.count("/v2/team/app/manifests/v1")
        two.count("/v2/lib/x/manifests/sha256:abc")
        let merged = PullCounts.merged([one.snapshot, two.snapshot, "garbage\n12 /not/a/manifest\n"])
        XCTAssertEqual(merged.map(\.reference), ["team/app:v1", "lib/x@sha256:abc"])
        XCTAssertEqual(merged.map(\.count), [4, 1])
    }

    func test_when_full_a_new_path_takes_the_place_of_the_least_pulled() {
        var counts = PullCounts()
        for index in 0..<PullCounts.capacity {
            for _ in 0..<(index == 0 ? 1 : 2) { counts.count("/v2/r/manifests/t\(index)"[...]) }
        }
        counts.count("/v2/r/manifests/new")
        let merged = PullCounts.merged([counts.snapshot])
        XCTAssertEqual(merged.count, PullCounts.capacity)
        XCTAssertFalse(merged.contains { $0.reference == "r:t0" })
        XCTAssertTrue(merged.contains { $0.reference == "r:new" && $0.count == 1 })
    }
}
