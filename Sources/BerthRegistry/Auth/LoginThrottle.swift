/// Slows password guessing: an address that fails `limit` logins within `window` is answered 429 until the
/// window that began at its first failure is over. Logins under way count as failures until they end, so a
/// burst of parallel guesses cannot pass the limit while bcrypt runs. Bounded: at most `capacity` addresses
/// are followed; when full, ended windows are dropped, then the oldest window. Per worker process: with N
/// workers an address gets up to N x `limit` guesses per window (connections are spread among workers).
/// Pure: the caller says what time it is (loop milliseconds).
struct LoginThrottle<Address: Hashable> {
    static var defaultLimit: Int { 10 }
    static var defaultWindowMilliseconds: UInt64 { 60_000 }
    static var defaultCapacity: Int { 4096 }

    enum Decision: Equatable {
        case allowed
        /// Seconds until the address may try again (at least 1), for `Retry-After`.
        case throttled(retryAfterSeconds: Int)
    }

    private struct Record {
        var failures = 0
        /// When the first failure of the current window was counted.
        var windowStart: UInt64 = 0
        var underWay = 0
    }

    let limit: Int
    let window: UInt64
    let capacity: Int
    private var records: [Address: Record] = [:]

    init(limit: Int = defaultLimit, window: UInt64 = defaultWindowMilliseconds, capacity: Int = defaultCapacity) {
        self.limit = max(1, limit)
        self.window = window
        self.capacity = max(1, capacity)
    }

    var followed: Int { records.count }

    /// Before a login is verified: allowed (and counted as under way until `ended`) or throttled.
    mutating func attempt(_ address: Address, now: UInt64) -> Decision {
        var record = records[address] ?? Record()
        if record.failures > 0, now >= record.windowStart + window { record.failures = 0 }
        if record.failures + record.underWay >= limit {
            let end = record.failures > 0 ? record.windowStart + window : now + window
            return .throttled(retryAfterSeconds: Int(max(1, (end - min(now, end) + 999) / 1000)))
        }
        if records[address] == nil, records.count >= capacity, !makeRoom(now: now) {
            return .throttled(retryAfterSeconds: 1)
        }
        record.underWay += 1
        records[address] = record
        return .allowed
    }

    /// After the verification of an allowed attempt.
    mutating func ended(_ address: Address, failed: Bool, now: UInt64) {
        guard var record = records[address] else { return }
        record.underWay = max(0, record.underWay - 1)
        if failed {
            if record.failures == 0 || now >= record.windowStart + window {
                record.failures = 0
                record.windowStart = now
            }
            record.failures += 1
        }
        if record.failures > 0, now >= record.windowStart + window { record.failures = 0 }
        records[address] = record.failures == 0 && record.underWay == 0 ? nil : record
    }

    /// Drops ended windows, else the oldest window with no login under way; false when every address has one.
    private mutating func makeRoom(now: UInt64) -> Bool {
        records = records.filter { $0.value.underWay > 0 || ($0.value.failures > 0 && now < $0.value.windowStart + window) }
        if records.count < capacity { return true }
        guard let oldest = records.filter({ $0.value.underWay == 0 }).min(by: { $0.value.windowStart < $1.value.windowStart })?.key else {
            return false
        }
        records[oldest] = nil
        return true
    }
}
