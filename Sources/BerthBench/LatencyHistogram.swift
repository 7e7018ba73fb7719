/// An HDR-style histogram of nanosecond values (after Gil Tene's HdrHistogram): every value is counted (no
/// sampling) in a fixed array, 2048 linear buckets below 2048 ns and then 1024 per power of two, so any
/// value is kept within 1/1024 (0.1 %) of itself. Recording is an index computation and an increment.
/// The 256 KiB of counts cover values up to 2^41 ns (about 36 minutes); larger ones count as that.
public struct LatencyHistogram {
    static let linearCount = 2048
    static let subBucketCount = 1024
    static let maxShift = 31
    static let bucketCount = linearCount + maxShift * subBucketCount

    private var counts = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
    public private(set) var count: UInt64 = 0
    public private(set) var min: UInt64 = .max
    public private(set) var max: UInt64 = 0
    public private(set) var sum: UInt64 = 0

    public init() {}

    @inline(__always)
    static func index(of value: UInt64) -> Int {
        if value < UInt64(linearCount) { return Int(value) }
        let highestBit = 63 - value.leadingZeroBitCount
        let shift = Swift.min(highestBit - 10, maxShift)
        let top = Swift.min(value >> UInt64(shift), UInt64(2 * subBucketCount - 1))
        return linearCount + (shift - 1) * subBucketCount + Int(top) - subBucketCount
    }

    /// The largest value that lands in bucket `index`.
    static func highestValue(at index: Int) -> UInt64 {
        if index < linearCount { return UInt64(index) }
        let k = index - linearCount
        let shift = UInt64(k / subBucketCount + 1)
        let top = UInt64(k % subBucketCount + subBucketCount)
        return ((top + 1) << shift) - 1
    }

    public mutating func record(_ value: UInt64) {
        counts[LatencyHistogram.index(of: value)] += 1
        count += 1
        sum &+= value
        if value < min { min = value }
        if value > max { max = value }
    }

    public mutating func add(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        for index in 0..<counts.count { counts[index] += other.counts[index] }
        count += other.count
        sum &+= other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// The value at or below which `percent` of the values lie (0 when empty), within the 0.1 % precision,
    /// and never outside the exact minimum and maximum.
    public func value(atPercentile percent: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let wanted = Swift.max(1, UInt64((percent / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for index in 0..<counts.count where counts[index] > 0 {
            seen += counts[index]
            if seen >= wanted {
                return Swift.min(Swift.max(LatencyHistogram.highestValue(at: index), min), max)
            }
        }
        return max
    }

    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }
}
