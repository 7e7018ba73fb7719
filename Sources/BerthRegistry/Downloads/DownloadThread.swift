import BerthHTTP
import Glibc

/// One long-lived thread of a download that runs `work` (the hash and the write) over the ring's bytes in
/// order, as soon as they are published: it sleeps on a condition variable only when it has caught up with
/// the loop, so the hash (the download's critical path) never waits for a pool thread to be woken per batch.
/// Tells the loop of its progress through `wakeup`; the last time while holding its lock, as it marks itself
/// ended, so once the loop has seen that no `send` can follow. Shared between the loop and the thread: every field below the lock is
/// read and written under it.
final class DownloadThread {
    typealias Work = (UnsafeRawBufferPointer, Int64) throws -> Void

    struct ThreadUnavailable: Error, CustomStringConvertible {
        let code: Int32
        var description: String { "cannot start a download thread: \(String(cString: strerror(code)))" }
    }

    struct Progress {
        var done: Int64
        var ended: Bool
        var error: Error?
    }

    /// At most this much per call of `work`: the bytes are still in the CPU's cache when a second step runs
    /// over them, and progress reaches the loop (and the followers) often.
    static let pieceSize = 1 << 20

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let memory: UnsafeMutableRawPointer
    private let work: Work
    private let wakeup: LoopWakeup
    // Under `lock`:
    private var ring: DownloadRing
    private var progress = Progress(done: 0, ended: false, error: nil)
    private var finishing = false
    private var cancelled = false
    private var sleeping = false
    /// When each piece ran (monotonic ns), for `DownloadTrace`; read by the loop once the thread ended.
    private(set) var times: [(start: UInt64, end: UInt64, bytes: Int)] = []
    private let tracing: Bool

    /// Throws when the system will not start another thread (`pthread_create`'s EAGAIN under a process or
    /// cgroup limit): the caller fails its one download, the worker goes on.
    init(memory: UnsafeMutableRawPointer, capacity: Int, wakeup: LoopWakeup, tracing: Bool, work: @escaping Work) throws {
        self.memory = memory
        self.ring = DownloadRing(capacity: capacity)
        self.wakeup = wakeup
        self.tracing = tracing
        self.work = work
        pthread_mutex_init(lock, nil)
        pthread_cond_init(condition, nil)
        var thread = pthread_t()
        // The thread holds the object until it ends.
        let held = Unmanaged.passRetained(self)
        let started = pthread_create(&thread, nil, { raw in
            Unmanaged<DownloadThread>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, held.toOpaque())
        guard started == 0 else {
            held.release()
            throw ThreadUnavailable(code: started)
        }
        pthread_detach(thread)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(lock)
        condition.deallocate()
        lock.deallocate()
    }

    // MARK: From the loop

    /// The loop received up to `head`.
    func publish(_ head: Int64) {
        locked {
            ring.received(Int(head - ring.head))
            if sleeping { pthread_cond_signal(condition) }
        }
    }

    /// No more bytes: the thread ends once it has done all published.
    func finish() {
        locked {
            finishing = true
            pthread_cond_signal(condition)
        }
    }

    /// The thread ends after the piece it is on.
    func cancel() {
        locked {
            cancelled = true
            pthread_cond_signal(condition)
        }
    }

    var current: Progress { locked { progress } }

    // MARK: On the thread

    private func run() {
        pthread_mutex_lock(lock)
        while true {
            if cancelled || progress.error != nil { break }
            let position = progress.done
            if position == ring.head {
                if finishing { break }
                sleeping = true
                pthread_cond_wait(condition, lock)
                sleeping = false
                continue
            }
            let (start, count) = ring.region(from: position, limit: Self.pieceSize)
            pthread_mutex_unlock(lock)
            let began = tracing ? DownloadTrace.now() : 0
            var failure: Error?
            do { try work(UnsafeRawBufferPointer(start: memory + start, count: count), position) } catch { failure = error }
            let ended = tracing ? DownloadTrace.now() : 0
            pthread_mutex_lock(lock)
            if tracing { times.append((began, ended, count)) }
            if let failure { progress.error = failure } else { progress.done = position + Int64(count) }
            ring.freed(upTo: progress.done)
            // Outside the lock: the loop may take it meanwhile. Only the last send (below) must come before
            // the loop can see the thread ended.
            pthread_mutex_unlock(lock)
            wakeup.send()
            pthread_mutex_lock(lock)
        }
        progress.ended = true
        wakeup.send()
        pthread_mutex_unlock(lock)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }
}
