import CBerthShims
import CLibUV

/// The time limits of a connection, checked every second: idle and head limits, and the progress deadlines
/// of the body being received and of the output the peer has not yet taken. A stalled peer is cut; a slow
/// one is not (see ProgressRule). The state machine decides; this performs.
extension HTTPConnection {
    /// Called every second by the server.
    func checkDeadlines(now: UInt64) {
        let limits = server.limits
        let body = exchange.map { exchange in
            HTTPConnectionStateMachine.BodySample(received: exchange.bytesReceived,
                                                  remaining: exchange.request.contentLength.map { $0 - exchange.bytesReceived })
        }
        switch machine.tick(now: now, limits: limits, body: body, acknowledged: outputWaitingOnPeer()) {
        case .none:
            break
        case .idleExpired, .handshakeExpired:
            close()
        case .headExpired:
            answerAndClose(status: 408, message: "request head not received within \(limits.headerTimeoutMilliseconds / 1000) s")
        case .bodyStalled:
            refuseRequestBody(status: 408, message: "request body slower than \(progressText)")
        case .outputStalled:
            // A peer that stopped reading is reset, so that its send buffer (up to megabytes) is freed at once.
            Log.info("\(remoteAddress) took its answer slower than \(progressText): connection reset")
            berth_set_reset_on_close(transport.descriptor)
            forceClose()
        }
    }

    /// Output counts as taken when the peer acknowledges it (TCP_INFO), whichever path wrote it: a queued
    /// uv_write, sendfile on the loop or on the pool, or bytes the kernel still holds after the answer is out.
    /// Nil when nothing is waiting for the peer.
    private func outputWaitingOnPeer() -> Int64? {
        guard !machine.isClosed else { return nil }
        var acknowledged: UInt64 = 0
        var outstanding: Int32 = 0
        guard berth_tcp_output(transport.descriptor, &acknowledged, &outstanding) == 0,
              outstanding != 0 || transport.queuedBytes > 0 || machine.isTransferringInPool else { return nil }
        return Int64(clamping: acknowledged)
    }

    private var progressText: String {
        let rule = server.limits.progress
        return "\(rule.minimumBytes) bytes in \(Double(rule.windowMilliseconds) / 1000) s"
    }
}
