/// When a cache entry learned from a link was last confirmed against the disk. It holds without a stat(2)
/// while the store's change counter has not moved since (every Berth process on this machine raises it), and
/// for at most `maximumAge`, so that writers the counter does not hear of (registry:2 on the same directory,
/// another machine on shared storage) are seen within that time.
struct LinkCheck {
    static let maximumAgeMilliseconds: UInt64 = 1000

    let changes: UInt64?
    let checkedAt: UInt64

    func holds(changes current: UInt64?, at now: UInt64) -> Bool {
        guard let changes, changes == current else { return false }
        return now &- checkedAt < Self.maximumAgeMilliseconds
    }
}
