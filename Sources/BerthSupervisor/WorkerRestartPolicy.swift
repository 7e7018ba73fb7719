/// When the supervisor starts a worker again after it died, and when it gives up; pure, so every rule is
/// unit-tested. A worker that signalled it is ready (it listens) and then died was killed by something it did
/// or was done to it: it is restarted, after a pause that doubles while it keeps dying, so a request that
/// crashes workers costs a restart, never the service. Only workers that die before they are ready (the port
/// is taken, the storage root is gone) would die the same way again: those, repeated while no worker serves,
/// are a reason to stop.
public struct WorkerRestartPolicy {
    public static let firstDelayMilliseconds: UInt64 = 100
    public static let maxDelayMilliseconds: UInt64 = 5000
    /// A worker that served this long before it died starts again after the first delay.
    public static let stableMilliseconds: UInt64 = 30_000
    public static let startFailureLimit = 5

    public enum Decision: Equatable {
        case restart(afterMilliseconds: UInt64)
        case giveUp
    }

    /// The next delay per worker index.
    private var delays: [Int: UInt64] = [:]
    /// When each ready worker became ready; absent while it starts.
    private var readySince: [Int: UInt64] = [:]
    /// Deaths before readiness in a row, of any worker; a worker becoming ready clears it.
    private var startFailures = 0

    public init() {}

    public var servingWorkers: Int { readySince.count }

    public mutating func ready(_ index: Int, at now: UInt64) {
        readySince[index] = now
        startFailures = 0
    }

    public mutating func exited(_ index: Int, at now: UInt64) -> Decision {
        var delay = delays[index] ?? Self.firstDelayMilliseconds
        if let since = readySince.removeValue(forKey: index) {
            if now &- since >= Self.stableMilliseconds { delay = Self.firstDelayMilliseconds }
        } else {
            startFailures += 1
            if startFailures >= Self.startFailureLimit && readySince.isEmpty { return .giveUp }
        }
        delays[index] = min(delay * 2, Self.maxDelayMilliseconds)
        return .restart(afterMilliseconds: delay)
    }
}
