import BerthHTTP
@testable import BerthRegistry
import Foundation
import XCTest

/// The pipeline on a real loop and its two threads, without sockets or files: what each thread is given is
/// every byte appended, in order, at the right offsets, through many wraps of the ring.
final class DownloadPipelineTests: XCTestCase {
    private final class Seen {
        let lock = NSLock()
        var bytes: [UInt8] = []
        var offsets: [Int64] = []
        /// What the second thread saw: the same bytes.
        var again: [UInt8] = []
    }

    private func run(appending pieces: [[UInt8]], failingAt failure: Int64? = nil, cancelAfter: Int? = nil) throws
        -> (seen: Seen, progress: [Int64], ended: Error??) {
        let loop = EventLoop()
        let seen = Seen()
        let pipeline = try DownloadPipeline(loop: loop, tracing: false, steps: [
            { bytes, offset in
                seen.lock.lock()
                seen.offsets.append(offset)
                seen.bytes += bytes
                seen.lock.unlock()
            },
            { bytes, offset in
                if let failure, offset + Int64(bytes.count) > failure { throw POSIXError(.EIO) }
                seen.lock.lock()
                seen.again += bytes
                seen.lock.unlock()
            },
        ])
        var progress: [Int64] = []
        var ended: Error??
        pipeline.onProgress = { progress.append($0) }
        var index = 0
        var wake: LoopWakeup!
        // One piece per turn of the loop, as reads come; waits (turns) while the ring has no room.
        func feed() {
            if let cancelAfter, index == cancelAfter { return pipeline.cancel() }
            guard index < pieces.count else { return pipeline.finish() }
            guard pipeline.room >= pieces[index].count else {
                let later = wake!
                return DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(1)) { later.send() }
            }
            XCTAssertTrue(pieces[index].withUnsafeBytes { pipeline.append($0) })
            index += 1
            wake.send()
        }
        wake = try LoopWakeup(loop: loop) { feed() }
        wake.send()
        var finished = false
        pipeline.onEnd = { ended = .some($0); finished = true; wake.close() }
        loop.run()
        XCTAssertTrue(finished)
        return (seen, progress, ended)
    }

    func testTheThreadGetsEveryByteInOrderThroughManyWraps() throws {
        // 20 MiB in pieces of odd sizes: the 8 MiB ring wraps twice, pieces straddle its end.
        var pieces: [[UInt8]] = []
        var total = 0
        var value: UInt8 = 0
        while total < 20 << 20 {
            let size = min(200_003, (20 << 20) - total)
            pieces.append((0..<size).map { _ in value &+= 7; return value })
            total += size
        }
        let (seen, progress, ended) = try run(appending: pieces)
        XCTAssertNil(ended!, "a finished pipeline ends without an error")
        XCTAssertEqual(seen.bytes, pieces.flatMap { $0 })
        XCTAssertEqual(seen.again, seen.bytes)
        var expected: Int64 = 0
        for (offset, next) in zip(seen.offsets, seen.offsets.dropFirst() + [Int64(total)]) {
            XCTAssertEqual(offset, expected)
            expected = next
        }
        XCTAssertEqual(progress.last, Int64(total))
        XCTAssertEqual(progress, progress.sorted())
    }

    func testAFailedStepEndsThePipelineWithItsError() throws {
        let pieces = Array(repeating: [UInt8](repeating: 1, count: 100_000), count: 40)
        let (seen, progress, ended) = try run(appending: pieces, failingAt: 1_500_000)
        XCTAssertNotNil(ended!)
        XCTAssertLessThanOrEqual(seen.again.count, 1_500_000)
        // Progress is what both threads have done: never past the failed one.
        XCTAssertLessThanOrEqual(progress.last ?? 0, 1_500_000)
    }

    func testACancelledPipelineEndsAndTellsNoMoreProgress() throws {
        let pieces = Array(repeating: [UInt8](repeating: 2, count: 100_000), count: 40)
        let (seen, progress, ended) = try run(appending: pieces, cancelAfter: 5)
        XCTAssertNil(ended!)
        XCTAssertLessThanOrEqual(seen.bytes.count, 500_000)
        XCTAssertLessThanOrEqual(progress.last ?? 0, 500_000)
    }

    func testMoreThanTheRingHoldsIsRefusedAndTheRestStillArrives() throws {
        let loop = EventLoop()
        let seen = Seen()
        let pipeline = try DownloadPipeline(loop: loop, tracing: false, steps: [
            { bytes, _ in seen.lock.lock(); seen.bytes += bytes; seen.lock.unlock() },
        ])
        let tooMuch = [UInt8](repeating: 1, count: DownloadPipeline.capacity + 1)
        XCTAssertFalse(tooMuch.withUnsafeBytes { pipeline.append($0) }, "an overrun is refused, not a crash")
        XCTAssertEqual(pipeline.room, DownloadPipeline.capacity, "and leaves the ring as it was")
        let fits = [UInt8](repeating: 2, count: 1000)
        XCTAssertTrue(fits.withUnsafeBytes { pipeline.append($0) })
        var ended: Error??
        pipeline.onEnd = { ended = .some($0) }
        pipeline.finish()
        loop.run()
        XCTAssertNil(ended!)
        XCTAssertEqual(seen.bytes, fits)
    }
}
