@testable import BerthRegistry
import XCTest

final class DownloadRingTests: XCTestCase {
    func testReceivesIntoTheFreeRegionAndWrapsAroundOnceFreed() {
        var ring = DownloadRing(capacity: 10)
        XCTAssertEqual(ring.freeRegion.start, 0)
        XCTAssertEqual(ring.freeRegion.count, 10)
        ring.received(7)
        XCTAssertEqual(ring.used, 7)
        XCTAssertEqual(ring.room, 3)
        XCTAssertEqual(ring.freeRegion.start, 7)
        XCTAssertEqual(ring.freeRegion.count, 3)
        ring.freed(upTo: 5)
        // Room wraps: 3 at the end now, then 5 at the start once those are filled.
        XCTAssertEqual(ring.room, 8)
        XCTAssertEqual(ring.freeRegion.count, 3)
        ring.received(3)
        XCTAssertEqual(ring.freeRegion.start, 0)
        XCTAssertEqual(ring.freeRegion.count, 5)
        ring.received(5)
        XCTAssertEqual(ring.room, 0)
        XCTAssertEqual(ring.freeRegion.count, 0)
        XCTAssertEqual(ring.head, 15)
    }

    func testARegionStopsAtTheEndOfTheMemoryAtTheHeadAndAtTheLimit() {
        var ring = DownloadRing(capacity: 10)
        ring.received(8)
        ring.freed(upTo: 6)
        ring.received(6)  // bytes 6..<14: indices 6..<10, then 0..<4
        XCTAssertEqual(ring.region(from: 6, limit: 100).start, 6)
        XCTAssertEqual(ring.region(from: 6, limit: 100).count, 4)
        XCTAssertEqual(ring.region(from: 10, limit: 100).start, 0)
        XCTAssertEqual(ring.region(from: 10, limit: 100).count, 4)
        XCTAssertEqual(ring.region(from: 10, limit: 3).count, 3)
        XCTAssertEqual(ring.region(from: 14, limit: 100).count, 0)
    }

    func testFreeingIsMonotonic() {
        var ring = DownloadRing(capacity: 4)
        ring.received(4)
        ring.freed(upTo: 3)
        ring.freed(upTo: 1)
        XCTAssertEqual(ring.tail, 3)
        XCTAssertEqual(ring.room, 3)
    }
}
