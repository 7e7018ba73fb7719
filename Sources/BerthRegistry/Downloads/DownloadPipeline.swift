import BerthHTTP
import Glibc

/// A led download's data path from the upstream socket to the partial file and the hash: the body is
/// received into a ring buffer, and one long-lived thread (`DownloadThread`) hashes it and writes it as it
/// arrives, a MiB at a time (hash, then write the same bytes while they are in the cache). One thread for
/// both, not one each: on two shared vCPUs it took less CPU and wall time than a hash and a write thread
/// (bench/README.md, session 9). The loop only publishes how far it received and hears how far the thread
/// got; it never touches the disk. Memory is bounded by the ring: when it is nearly full the caller pauses the upstream.
/// Loop-confined.
final class DownloadPipeline {
    /// The ring's size: the most a download holds in memory, whatever its followers do.
    static let capacity = 8 << 20
    /// Below this much room the upstream is paused: one read of the loop's buffer (`EventLoop.readBufferSize`,
    /// 256 KiB) must always fit.
    static let pauseRoom = 256 << 10
    /// Resumed once this much is free again, so a pause lasts for more than one piece.
    static let resumeRoom = 2 << 20

    private let memory: UnsafeMutableRawPointer
    private var ring = DownloadRing(capacity: DownloadPipeline.capacity)
    private var thread: DownloadThread!
    private var wakeup: LoopWakeup!
    private var finished = false
    private var stopped = false
    private var closed = false
    /// Bytes the thread is done with, last heard.
    private(set) var done: Int64 = 0
    /// Called on the loop when the thread got further (the bytes it is done with).
    var onProgress: ((Int64) -> Void)?
    /// Called once on the loop when the thread has ended: after `finish`, `cancel`, or a failed step.
    var onEnd: ((Error?) -> Void)?

    /// `work` runs on the thread over every byte in order.
    init(loop: EventLoop, tracing: Bool, work: @escaping DownloadThread.Work) {
        memory = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: 4096)
        // The wake-up holds the pipeline (and so the ring's memory) until the thread has ended.
        wakeup = LoopWakeup(loop: loop) { self.heard() }
        thread = DownloadThread(memory: memory, capacity: Self.capacity, wakeup: wakeup, tracing: tracing, work: work)
    }

    deinit {
        memory.deallocate()
    }

    var room: Int { ring.room }

    /// Bytes received that the thread has not done yet.
    var waiting: Int { ring.used }

    /// Where the next body bytes may be received, in place.
    var freeSpace: UnsafeMutableRawBufferPointer? {
        guard !finished, !stopped else { return nil }
        let (start, count) = ring.freeRegion
        return count > 0 ? UnsafeMutableRawBufferPointer(start: memory + start, count: count) : nil
    }

    /// Takes body bytes: where `freeSpace` put them, or copied in (framing came first, or another buffer
    /// was read); then the thread may take them.
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty, !finished, !stopped else { return }
        precondition(bytes.count <= ring.room, "a download's ring overflowed")
        var copied = 0
        while copied < bytes.count {
            let (start, count) = ring.freeRegion
            let length = min(count, bytes.count - copied)
            if UnsafeRawPointer(memory + start) != source + copied { memmove(memory + start, source + copied, length) }
            ring.received(length)
            copied += length
        }
        thread.publish(ring.head)
    }

    /// No more bytes: `onEnd` comes once the thread has done every one.
    func finish() {
        guard !finished, !stopped else { return }
        finished = true
        thread.finish()
    }

    /// Stops the thread after its current piece; `onEnd` comes once it ended.
    func cancel() {
        guard !stopped else { return }
        stopped = true
        thread.cancel()
    }

    /// The pieces the thread ran (for the trace), once it ended.
    var times: [(start: UInt64, end: UInt64, bytes: Int)] { thread.times }

    private func heard() {
        let state = thread.current
        if state.done > done {
            done = state.done
            ring.freed(upTo: done)
            if !stopped { onProgress?(done) }
        }
        if !stopped, state.error != nil { cancel() }
        guard !closed, state.ended else { return }
        closed = true
        wakeup.close()
        let end = onEnd
        onEnd = nil
        onProgress = nil
        end?(state.error)
    }
}
