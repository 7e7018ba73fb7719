import BerthHTTP
import CLibUV
import Foundation
import XCTest

/// Runs a loop on the test's own thread, so everything loop-confined stays on one thread, until a
/// condition holds. The 30 s limit only keeps a broken peer from hanging the suite; nothing is timed.
public final class LoopHarness {
    public let loop = EventLoop()

    public init() {}

    public func run(until condition: () -> Bool, _ what: String = "the expected state", file: StaticString = #filePath, line: UInt = #line) {
        // Wakes uv_run at least every 20 ms so the condition is checked even when nothing happens.
        let ticker = loop.repeating(every: 20) {}
        let deadline = Date().addingTimeInterval(30)
        while !condition() && Date() < deadline {
            uv_run(loop.raw, UV_RUN_ONCE)
        }
        ticker.stop()
        XCTAssertTrue(condition(), "the loop did not reach \(what) within 30 s", file: file, line: line)
    }

    /// Runs the loop's work for at least `milliseconds`: a wait for something to *not* happen.
    public func run(forMilliseconds milliseconds: UInt64) {
        var fired = false
        let timer = loop.repeating(every: milliseconds) { fired = true }
        run(until: { fired }, "a timer")
        timer.stop()
    }

    /// After a client's shutdown, every handle must close: the loop ends with nothing alive.
    public func drain(file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(10)
        while uv_loop_alive(loop.raw) != 0 && Date() < deadline {
            uv_run(loop.raw, UV_RUN_NOWAIT)
            usleep(1000)
        }
        XCTAssertEqual(uv_loop_alive(loop.raw), 0, "handles or requests still open after shutdown", file: file, line: line)
    }
}
