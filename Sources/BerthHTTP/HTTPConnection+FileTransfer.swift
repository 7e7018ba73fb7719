import CBerthShims
import CLibUV
import Glibc

/// How a file body goes out: sendfile(2) on the loop while the socket takes it, then as it drains, or from a
/// pool thread when the bytes must come from the disk; a file still being written is followed as it grows.
/// All three paths use the one sendfile loop (`SendfileRun`).
extension HTTPConnection {
    /// Up to this much left when the socket is full, the rest goes out from the loop as the socket drains,
    /// without asking whether it is in the page cache.
    private static let loopTransferLimit: Int64 = 1 << 20
    /// How far ahead a large rest is probed for bytes that are not in the page cache: about what a loopback
    /// socket buffer takes at once.
    private static let cacheProbeDistance: Int64 = 4 << 20
    /// The most a follower of a growing file sends from the pool before it looks again.
    private static let followInPoolLimit: Int64 = 16 << 20

    /// Sends `count` bytes of the body from `first`: a complete file (`transfer`) or one still growing (`follow`).
    func sendBody(_ file: OpenFile, growing progress: GrowingFile?, from first: Int64, count: Int64, exchange: HTTPExchange) {
        if tls != nil {
            sendBodyOverTLS(file, growing: progress, from: first, to: first + count, exchange: exchange)
        } else if let progress {
            follow(file, progress, from: first, to: first + count, exchange: exchange)
        } else {
            transfer(file, from: first, to: first + count, exchange: exchange)
        }
    }

    /// Sends a file with sendfile(2): on the loop while the socket takes it. When it is full, the rest goes out
    /// from the loop as the socket drains while it is in the page cache (as nginx sends; 5 to 10 % faster here
    /// than a blocking sendfile on a pool thread), and from a pool thread when it must come from the disk,
    /// so that no disk read stalls the loop.
    private func transfer(_ file: OpenFile, from first: Int64, to end: Int64, exchange: HTTPExchange) {
        let socket = transport.descriptor
        var run = SendfileRun(socket: socket, file: file.descriptor, offset: first, end: end)
        switch run.send() {
        case .done:
            exchange.bytesSent += run.offset - first
            responseFinished()
            return
        case .failed:
            close()
            return
        case .socketFull:
            exchange.bytesSent += run.offset - first
        }
        if end - run.offset <= Self.loopTransferLimit || !mustReadDisk(run) {
            let offset = run.offset
            sendByteWhenWritable(file, at: offset, exchange: exchange) { [unowned self] in
                transfer(file, from: offset + 1, to: end, exchange: exchange)
            }
            return
        }
        sendInPool(run, exchange: exchange) { [unowned self] in responseFinished() }
    }

    /// Whether the next bytes of `run` (as far as a socket buffer takes) must come from the disk.
    private func mustReadDisk(_ run: SendfileRun) -> Bool {
        berth_is_cached(run.file, run.offset + min(run.end - run.offset, Self.cacheProbeDistance) - 1) != 1
    }

    /// Sends the rest of `run` from a pool thread, the socket blocking meanwhile, so that a disk read does not
    /// stall the loop; `next` runs on the loop once all of it is out. A peer that takes nothing for the
    /// send timeout has its connection reset.
    private func sendInPool(_ run: SendfileRun, exchange: HTTPExchange, then next: @escaping () -> Void) {
        let socket = run.socket
        machine.transferInPool(true)
        stopReading()
        berth_set_blocking(socket, 1)
        // A backstop for a peer that takes nothing at all; the progress deadline applies the rest of the rule.
        berth_set_send_timeout(socket, Int32(clamping: max(1, server.limits.progress.windowMilliseconds / 1000)))
        let start = run.offset
        let remaining = run.end - run.offset
        server.loop.offload({ () -> Int64 in
            // Blocking: a full socket (the send timeout) ends the run like any other failure.
            var blocking = run
            _ = blocking.send()
            return blocking.offset - start
        }, then: { [self] sent in
            berth_set_blocking(socket, 0)
            machine.transferInPool(false)
            exchange.bytesSent += sent
            if sent == remaining {
                next()
            } else {
                // The peer will not take the rest: let the kernel drop it too instead of retrying for minutes.
                berth_set_reset_on_close(socket)
                close()
            }
        })
    }

    /// libuv has no "tell me when writable" for a stream it owns, but a queued write waits for exactly that:
    /// the file's byte at `offset` goes out through uv_write, then `next` continues after it. Always queued,
    /// never tried first: libuv runs a queued write's callback from the loop, so `next` never runs inside this
    /// call. A try-write that took the byte at once would call `next` here, and a client draining its socket a
    /// little at a time would then nest one send in the other until the loop's stack overflowed (a mirror node
    /// died so serving a 256 MiB blob to nginx).
    private func sendByteWhenWritable(_ file: OpenFile, at offset: Int64, exchange: HTTPExchange, next: @escaping () -> Void) {
        var byte: UInt8 = 0
        guard !machine.isClosed, pread(file.descriptor, &byte, 1, off_t(offset)) == 1 else {
            close()
            return
        }
        let queued = withUnsafeBytes(of: &byte) { bytes in
            SocketWrite(copying: bytes) { [self] status in
                guard status == 0, !machine.isClosed else { close(); return }
                exchange.bytesSent += 1
                next()
            }.start(on: transport.stream)
        }
        if !queued { close() }
    }

    /// Sends `[offset, end)` of a file still being written: what is final goes out by sendfile on the loop
    /// (a follower that fell so far behind that its next bytes left the page cache reads them on the pool),
    /// then the connection waits for the writer. A writer that fails cuts the body short (the connection
    /// closes), so a client never takes a partial body for a whole one.
    private func follow(_ file: OpenFile, _ progress: GrowingFile, from start: Int64, to end: Int64, exchange: HTTPExchange) {
        let available = min(progress.availableBytes, end)
        if available <= start {
            progress.whenAvailable(beyond: start) { [weak self] ok in
                guard let self, ok, !self.machine.isClosed else { self?.close(); return }
                self.follow(file, progress, from: start, to: end, exchange: exchange)
            }
            return
        }
        var run = SendfileRun(socket: transport.descriptor, file: file.descriptor, offset: start, end: available)
        if mustReadDisk(run) { return followInPool(file, progress, run, to: end, exchange: exchange) }
        let stop = run.send()
        exchange.bytesSent += run.offset - start
        switch stop {
        case .done where run.offset == end:
            responseFinished()
        case .done:
            follow(file, progress, from: run.offset, to: end, exchange: exchange)
        case .socketFull where mustReadDisk(run):
            followInPool(file, progress, run, to: end, exchange: exchange)
        case .socketFull:
            let position = run.offset
            sendByteWhenWritable(file, at: position, exchange: exchange) { [unowned self] in
                follow(file, progress, from: position + 1, to: end, exchange: exchange)
            }
        case .failed:
            close()
        }
    }

    /// Sends the next piece of `run` from the pool, then follows on: a bounded piece at a time, so that a slow
    /// follower does not hold for long a pool thread the download needs.
    private func followInPool(_ file: OpenFile, _ progress: GrowingFile, _ run: SendfileRun, to end: Int64, exchange: HTTPExchange) {
        let piece = SendfileRun(socket: run.socket, file: run.file, offset: run.offset,
                                end: min(run.end, run.offset + Self.followInPoolLimit))
        sendInPool(piece, exchange: exchange) { [unowned self] in
            follow(file, progress, from: piece.end, to: end, exchange: exchange)
        }
    }
}

/// The one sendfile(2) loop: `[offset, end)` of a file to a socket, until it is out, the socket is full
/// (EAGAIN on a non-blocking socket) or it fails. A value, so that a run can move to a pool thread.
struct SendfileRun: Sendable {
    enum Stop {
        case done
        case socketFull
        case failed
    }

    let socket: Int32
    let file: Int32
    private(set) var offset: Int64
    let end: Int64

    init(socket: Int32, file: Int32, offset: Int64, end: Int64) {
        self.socket = socket
        self.file = file
        self.offset = offset
        self.end = end
    }

    mutating func send() -> Stop {
        while offset < end {
            let sent = berth_sendfile(socket, file, offset, Int(min(end - offset, 1 << 30)))
            if sent > 0 {
                offset += Int64(sent)
            } else if sent == -Int(EINTR) {
                continue
            } else if sent == -Int(EAGAIN) {
                return .socketFull
            } else {
                return .failed
            }
        }
        return .done
    }
}
