import CBerthShims
import CLibUV

/// The time limits of a connection, checked every second: idle and head limits, and the progress deadlines
/// of the body being received and of the output the peer has not yet taken. A stalled peer is cut; a slow
/// one is not (see ProgressRule).
extension HTTPConnection {
    /// Called every second by the server: the idle and head time limits, then the progress deadlines.
    func checkDeadlines(now: UInt64) {
        let limits = server.limits
        switch phase {
        case .idle where now - lastActivity > limits.idleTimeoutMilliseconds:
            close()
            return
        case .readingHead where now - headStartedAt > limits.headerTimeoutMilliseconds:
            answerAndClose(status: 408, message: "request head not received within \(limits.headerTimeoutMilliseconds / 1000) s")
            return
        default:
            break
        }
        if phase == .readingBody, reading, !bodyPaused, let exchange {
            let remaining = exchange.request.contentLength.map { $0 - exchange.bytesReceived }
            if bodyProgress.observe(moved: exchange.bytesReceived, remaining: remaining, now: now, rule: limits.progress) == .expired {
                answerAndClose(status: 408, message: "request body slower than \(progressText)")
                return
            }
        } else {
            bodyProgress.disarm()
        }
        checkOutput(now: now)
    }

    /// Output counts as taken when the peer acknowledges it (TCP_INFO), whichever path wrote it: a queued
    /// uv_write, sendfile on the loop or on the pool, or bytes the kernel still holds after the answer is out.
    /// A peer that stopped reading is reset, so that its send buffer (up to megabytes) is freed at once.
    private func checkOutput(now: UInt64) {
        let socket = socketDescriptor
        var acknowledged: UInt64 = 0
        var outstanding: Int32 = 0
        guard !closed, berth_tcp_output(socket, &acknowledged, &outstanding) == 0,
              outstanding != 0 || stream.pointee.write_queue_size > 0 || transferInPool else {
            outputProgress.disarm()
            return
        }
        guard outputProgress.observe(moved: Int64(clamping: acknowledged), remaining: nil, now: now,
                                     rule: server.limits.progress) == .expired else { return }
        Log.info("\(remoteAddress) took its answer slower than \(progressText): connection reset")
        berth_set_reset_on_close(socket)
        forceClose()
    }

    private var progressText: String {
        let rule = server.limits.progress
        return "\(rule.minimumBytes) bytes in \(Double(rule.windowMilliseconds) / 1000) s"
    }
}
