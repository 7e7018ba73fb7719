import CBerthShims
import CLibUV
import Glibc

/// The process's single libuv loop. Everything that touches a handle runs on its thread;
/// blocking disk work goes to the thread pool through `offload` and comes back here.
public final class EventLoop {
    public let raw: UnsafeMutablePointer<uv_loop_t>

    /// One read buffer for every stream on the loop (see StreamTransport): each read is consumed (parsed, or
    /// copied into OpenSSL) before the next one arrives. The loop's `data` points at it.
    static let readBufferSize = 256 * 1024
    private let readBuffer = UnsafeMutableRawPointer.allocate(byteCount: EventLoop.readBufferSize, alignment: 16)

    public init() {
        raw = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        uv_loop_init(raw)
        raw.pointee.data = readBuffer
    }

    deinit {
        uv_loop_close(raw)
        raw.deallocate()
        readBuffer.deallocate()
    }

    /// The first `count` bytes of the read buffer, as the last read left them.
    public func readBytes(_ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: readBuffer, count: count)
    }

    public func run() {
        uv_run(raw, UV_RUN_DEFAULT)
    }

    /// Milliseconds on the loop's cached clock.
    public var now: UInt64 { uv_now(raw) }

    /// Runs `work` on the libuv thread pool, then `completion` with its result on the loop thread.
    public func offload<Result>(_ work: @escaping () -> Result, then completion: @escaping (Result) -> Void) {
        let slot = ResultSlot<Result>()
        let job = PoolJob(run: { slot.value = work() }, done: { completion(slot.value!) })
        let request = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(job).toOpaque()
        uv_queue_work(raw, request, { request in
            Unmanaged<PoolJob>.fromOpaque(request!.pointee.data).takeUnretainedValue().run()
        }, { request, _ in
            let job = Unmanaged<PoolJob>.fromOpaque(request!.pointee.data).takeRetainedValue()
            request!.deallocate()
            job.done()
        })
    }

    /// Calls `tick` every `intervalMilliseconds` until the returned timer is stopped.
    public func repeating(every intervalMilliseconds: UInt64, _ tick: @escaping () -> Void) -> RepeatingTimer {
        RepeatingTimer(loop: self, interval: intervalMilliseconds, tick: tick)
    }
}

/// A wake-up another thread may send to the loop: an eventfd the loop polls. Not `uv_async_t`: when the loop
/// takes an async wake-up while a sender is still inside `uv_async_send`, it spins and `sched_yield`s until the
/// sender is done, and on two loaded vCPUs the sender is often the thread it preempted (issue 19's download
/// threads send one a MiB: 5-27 yields, up to 44 ms, in a 64 MiB cold pull under strace).
public final class LoopWakeup {
    private let handle: UnsafeMutablePointer<uv_poll_t>
    private let descriptor: Int32
    private let action: () -> Void

    /// No eventfd could be made (the process is out of descriptors): whoever wanted one fails, the loop goes on.
    public struct Unavailable: Error, CustomStringConvertible {
        public let code: Int32
        public var description: String { "cannot make an eventfd: \(String(cString: strerror(code)))" }
    }

    /// `action` runs on the loop after each `send()`; sends that arrive together run it once.
    public init(loop: EventLoop, _ action: @escaping () -> Void) throws {
        let descriptor = berth_eventfd()
        guard descriptor >= 0 else { throw Unavailable(code: -descriptor) }
        self.action = action
        self.descriptor = descriptor
        handle = .allocate(capacity: 1)
        uv_poll_init(loop.raw, handle, descriptor)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_poll_start(handle, Int32(UV_READABLE.rawValue)) { handle, _, _ in
            let wakeup = Unmanaged<LoopWakeup>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            var count: UInt64 = 0
            _ = read(wakeup.descriptor, &count, 8)
            wakeup.action()
        }
    }

    /// Safe from any thread, until `close()`.
    public func send() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, 8)
    }

    /// On the loop, once no thread will send again: closes the handle so the loop can end.
    public func close() {
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { raw in
            let wakeup = Unmanaged<LoopWakeup>.fromOpaque(raw!.pointee.data).takeRetainedValue()
            Glibc.close(wakeup.descriptor)
            wakeup.handle.deallocate()
        }
    }
}

/// Work for the pool and its completion for the loop; uv_queue_work orders the two.
private final class PoolJob {
    let run: () -> Void
    let done: () -> Void
    init(run: @escaping () -> Void, done: @escaping () -> Void) {
        self.run = run
        self.done = done
    }
}

private final class ResultSlot<Value> {
    var value: Value?
}

/// A libuv timer owned by Swift; it keeps itself alive while its handle is open. Loop-confined.
public final class RepeatingTimer {
    private let handle = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    private let tick: () -> Void
    private var running = true

    init(loop: EventLoop, interval: UInt64, tick: @escaping () -> Void) {
        self.tick = tick
        uv_timer_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_timer_start(handle, { timer in
            Unmanaged<RepeatingTimer>.fromOpaque(timer!.pointee.data).takeUnretainedValue().tick()
        }, interval, interval)
    }

    public func stop() {
        guard running else { return }
        running = false
        uv_timer_stop(handle)
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { raw in
            let timer = Unmanaged<RepeatingTimer>.fromOpaque(raw!.pointee.data).takeRetainedValue()
            timer.handle.deallocate()
        }
    }
}
