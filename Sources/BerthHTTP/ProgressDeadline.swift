/// How slowly a peer may move bytes before it counts as stalled: while a connection waits on it, at least
/// `minimumBytes` (or all that is left, when less is) must move within every `windowMilliseconds`.
/// The defaults cut a peer that moves less than 64 KiB in two minutes (about 550 bytes/s, a twentieth of a
/// 128 kbit/s link) or nothing at all for two minutes: a slow push or pull over a poor WAN link goes on, a
/// peer that stopped reading or trickles bytes is cut eventually.
public struct ProgressRule: Sendable {
    public var windowMilliseconds: UInt64 = 120_000
    public var minimumBytes: Int64 = 64 * 1024

    public init() {}

    public init(windowMilliseconds: UInt64, minimumBytes: Int64) {
        self.windowMilliseconds = windowMilliseconds
        self.minimumBytes = minimumBytes
    }
}

/// A deadline that is re-armed each time the peer has moved its quota of bytes, and expires when a window
/// passes without that. A pure value: the connection reports the running count of bytes moved and the time,
/// and acts on the verdict; it does no I/O, so every case is tested without a socket.
struct ProgressDeadline {
    enum State: Equatable {
        /// The connection is not waiting on its peer.
        case disarmed
        /// Since `since`, the peer has owed `quota` more bytes than the `moved` it had then.
        case armed(since: UInt64, moved: Int64, quota: Int64)
    }

    enum Verdict: Equatable {
        case onTime
        case expired
    }

    private(set) var state = State.disarmed

    /// One look while the connection waits on its peer. `moved` is a running count (bytes received, or bytes
    /// the peer acknowledged); `remaining` is what is still to come when known, so that a small body must
    /// arrive whole within one window instead of at the minimum rate.
    mutating func observe(moved: Int64, remaining: Int64?, now: UInt64, rule: ProgressRule) -> Verdict {
        switch state {
        case .disarmed:
            arm(moved: moved, remaining: remaining, now: now, rule: rule)
            return .onTime
        case .armed(let since, let base, let quota):
            if moved - base >= quota {
                arm(moved: moved, remaining: remaining, now: now, rule: rule)
                return .onTime
            }
            return now - since >= rule.windowMilliseconds ? .expired : .onTime
        }
    }

    /// The connection no longer waits on its peer (it finished, or Berth itself holds the bytes back).
    mutating func disarm() {
        state = .disarmed
    }

    private mutating func arm(moved: Int64, remaining: Int64?, now: UInt64, rule: ProgressRule) {
        let quota = max(1, min(rule.minimumBytes, remaining ?? rule.minimumBytes))
        state = .armed(since: now, moved: moved, quota: quota)
    }
}
