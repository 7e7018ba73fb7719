/// The positions of a download's ring buffer, in bytes of the blob: the loop receives at `head`, the download
/// threads take bytes up to it, and memory up to `tail` (what every thread is done with) is free again.
/// A ring, not batches, so a thread never waits for the loop to cut and hand over the next batch: it takes
/// whatever has arrived. Pure: no memory, no threads (`DownloadPipeline` holds those).
struct DownloadRing {
    let capacity: Int
    /// Bytes received (the blob's offset of the next byte to arrive).
    private(set) var head: Int64 = 0
    /// Bytes every thread is done with.
    private(set) var tail: Int64 = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Bytes received that some thread still needs.
    var used: Int { Int(head - tail) }

    var room: Int { capacity - used }

    /// Where in the memory the next bytes go, and how many fit there without wrapping around.
    var freeRegion: (start: Int, count: Int) {
        let start = index(head)
        return (start, min(room, capacity - start))
    }

    func index(_ position: Int64) -> Int { Int(position % Int64(capacity)) }

    /// The bytes from `position` (received, not freed) that lie together in memory, at most `limit`.
    func region(from position: Int64, limit: Int) -> (start: Int, count: Int) {
        precondition(position >= tail && position <= head)
        let start = index(position)
        return (start, min(Int(head - position), capacity - start, limit))
    }

    mutating func received(_ count: Int) {
        precondition(count >= 0 && count <= room)
        head += Int64(count)
    }

    mutating func freed(upTo position: Int64) {
        precondition(position <= head)
        tail = max(tail, position)
    }
}
