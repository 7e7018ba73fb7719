/// An hour of per-minute figures kept in memory: each minute, the totals of `/metrics` (summed over the
/// workers) are sampled, and the difference from the previous sample is that minute's count. Every worker keeps
/// its own copy from the same summed totals, so any worker's page shows the whole server. Pure: the caller
/// samples and passes the time.
struct MetricsHistory {
    struct Totals: Equatable {
        var requests: Double
        var sentBytes: Double
    }

    struct Minute: Equatable {
        /// Unix minute (seconds / 60) the counts end at.
        let minute: Int
        let requests: Double
        let sentBytes: Double
    }

    static let minutesKept = 60
    private(set) var minutes: [Minute] = []
    private var previous: (minute: Int, totals: Totals)?

    /// A sample at `minute`. The first only sets the base; a repeated minute is ignored; counters that went down
    /// (a worker restarted and its counts began again) count from zero rather than as a negative minute.
    mutating func record(minute: Int, totals: Totals) {
        guard let previous else { return self.previous = (minute, totals) }
        guard minute > previous.minute else { return }
        self.previous = (minute, totals)
        let requests = totals.requests >= previous.totals.requests ? totals.requests - previous.totals.requests : totals.requests
        let bytes = totals.sentBytes >= previous.totals.sentBytes ? totals.sentBytes - previous.totals.sentBytes : totals.sentBytes
        // Minutes without a sample (the loop was busy past a whole minute) share the difference evenly.
        let span = minute - previous.minute
        for offset in 1...min(span, Self.minutesKept) {
            let at = minute - min(span, Self.minutesKept) + offset
            minutes.append(Minute(minute: at, requests: requests / Double(span), sentBytes: bytes / Double(span)))
        }
        if minutes.count > Self.minutesKept { minutes.removeFirst(minutes.count - Self.minutesKept) }
    }
}
