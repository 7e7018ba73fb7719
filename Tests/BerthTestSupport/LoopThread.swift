import BerthHTTP
import Foundation
import XCTest

/// A loop on a thread of its own, for a server the test drives from outside with a blocking client.
/// `perform` is the only way in: the work runs on the loop's thread, woken by a `LoopWakeup`.
public final class LoopThread {
    public let loop = EventLoop()
    private var wakeup: LoopWakeup!
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var pending: [() -> Void] = []
    private var stopping = false

    /// Handles the server needs (a listener) are opened on the caller's thread between `init` and `start`.
    public init() {
        // A test machine out of descriptors cannot run the test at all.
        wakeup = try! LoopWakeup(loop: loop) { [unowned self] in
            lock.lock()
            let work = pending
            pending = []
            let stop = stopping
            lock.unlock()
            work.forEach { $0() }
            if stop { wakeup.close() }
        }
    }

    public func start() {
        let thread = Thread { [loop, finished] in
            loop.run()
            finished.signal()
        }
        thread.start()
    }

    /// Runs `work` on the loop's thread soon; safe from any thread.
    public func perform(_ work: @escaping () -> Void) {
        lock.lock()
        pending.append(work)
        lock.unlock()
        wakeup.send()
    }

    /// Runs `work` on the loop's thread and waits for its result: a read of loop-confined state, or
    /// (with an empty `work`) one turn of the loop.
    public func sync<Result>(_ work: @escaping () -> Result) -> Result {
        let done = DispatchSemaphore(value: 0)
        var result: Result?
        perform {
            result = work()
            done.signal()
        }
        done.wait()
        return result!
    }

    /// Runs `work` (which must let every other handle close), then waits for the loop to end.
    public func stop(after work: @escaping () -> Void, file: StaticString = #filePath, line: UInt = #line) {
        lock.lock()
        pending.append(work)
        stopping = true
        lock.unlock()
        wakeup.send()
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success, "the loop did not end after shutdown", file: file, line: line)
    }
}
