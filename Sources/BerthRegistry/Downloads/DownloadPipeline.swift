import BerthHTTP
import Glibc

/// A led download's data path from the upstream socket to the partial file and the hash: the body is
/// received into a ring buffer, and long-lived threads (`DownloadThread`) take it as it arrives, a MiB at a
/// time, each running one step over every byte: one hashes, one writes, so a write held back by the kernel's
/// dirty-page throttling (a blob larger than a tenth of memory) does not hold the hash back too. The loop
/// only publishes how far it received and hears how far the threads got; it never touches the disk. Memory is bounded by the ring: when it is nearly full the caller pauses the upstream.
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
    private var threads: [DownloadThread] = []
    private var wakeup: LoopWakeup!
    private var finished = false
    private var stopped = false
    private var closed = false
    /// Bytes every thread is done with, last heard.
    private(set) var done: Int64 = 0
    /// Called on the loop when the threads got further (the bytes every one of them is done with).
    var onProgress: ((Int64) -> Void)?
    /// Called once on the loop when every thread has ended: after `finish`, `cancel`, or a failed step.
    var onEnd: ((Error?) -> Void)?

    /// One thread per step, each running it over every byte in order. Throws when the system will not give
    /// the download its wake-up or its threads (out of descriptors, or of tasks); the threads that did
    /// start are stopped, and their memory freed once they have ended.
    init(loop: EventLoop, tracing: Bool, steps: [DownloadThread.Work]) throws {
        memory = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: 4096)
        // The wake-up holds the pipeline (and so the ring's memory) until every thread has ended.
        wakeup = try LoopWakeup(loop: loop) { self.heard() }
        do {
            for step in steps {
                threads.append(try DownloadThread(memory: memory, capacity: Self.capacity, wakeup: wakeup,
                                                  tracing: tracing, work: step))
            }
        } catch {
            cancel()
            if threads.isEmpty {
                closed = true
                wakeup.close()
            }
            throw error
        }
    }

    deinit {
        memory.deallocate()
    }

    var room: Int { ring.room }

    /// Bytes received that some thread has not done yet.
    var waiting: Int { ring.used }

    /// Where the next body bytes may be received, in place.
    var freeSpace: UnsafeMutableRawBufferPointer? {
        guard !finished, !stopped else { return nil }
        let (start, count) = ring.freeRegion
        return count > 0 ? UnsafeMutableRawBufferPointer(start: memory + start, count: count) : nil
    }

    /// Takes body bytes: where `freeSpace` put them, or copied in (framing came first, or another buffer
    /// was read); then the threads may take them.
    /// False when they do not fit (the caller pauses the upstream before that can happen; an upstream that
    /// sends on regardless fails its download, not the worker).
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let source = bytes.baseAddress, !bytes.isEmpty, !finished, !stopped else { return true }
        guard bytes.count <= ring.room else { return false }
        var copied = 0
        while copied < bytes.count {
            let (start, count) = ring.freeRegion
            let length = min(count, bytes.count - copied)
            if UnsafeRawPointer(memory + start) != source + copied { memmove(memory + start, source + copied, length) }
            ring.received(length)
            copied += length
        }
        let head = ring.head
        threads.forEach { $0.publish(head) }
        return true
    }

    /// No more bytes: `onEnd` comes once every thread has done every one.
    func finish() {
        guard !finished, !stopped else { return }
        finished = true
        threads.forEach { $0.finish() }
    }

    /// Stops the threads after their current piece; `onEnd` comes once they all ended.
    func cancel() {
        guard !stopped else { return }
        stopped = true
        threads.forEach { $0.cancel() }
    }

    /// The pieces each thread ran (for the trace), once they all ended.
    var times: [[(start: UInt64, end: UInt64, bytes: Int)]] { threads.map(\.times) }

    private func heard() {
        let states = threads.map(\.current)
        let reached = states.map(\.done).min() ?? 0
        let error = states.lazy.compactMap(\.error).first
        if reached > done {
            done = reached
            ring.freed(upTo: done)
            if !stopped { onProgress?(done) }
        }
        if !stopped, error != nil { cancel() }
        guard !closed, states.allSatisfy(\.ended) else { return }
        closed = true
        wakeup.close()
        let end = onEnd
        onEnd = nil
        onProgress = nil
        end?(error)
    }
}
