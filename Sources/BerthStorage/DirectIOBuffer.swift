import Glibc

/// Bytes in memory on the boundary that direct I/O (`O_DIRECT`) asks for, so an upload's bytes go from
/// here to the disk without a copy into the page cache: that copy was half of a push's CPU time.
/// Grows when an append does not fit; its memory comes from `MappedBlockPool`. Not thread-safe: while two
/// pool threads read it (one writing it to disk, one hashing it), nobody appends.
public final class DirectIOBuffer {
    /// Buffer address, file offset and length must all be multiples of this for a direct write.
    public static let alignment = 4096

    private var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public private(set) var count = 0

    public init(capacity: Int) {
        (base, self.capacity) = MappedBlockPool.take(Self.roundedUp(max(capacity, Self.alignment)))
    }

    deinit {
        MappedBlockPool.give(base, capacity)
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    public var isEmpty: Bool { count == 0 }

    /// The memory past the bytes, where a reader may put more before `append`ing them in place.
    public var freeSpace: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + count, count: capacity - count)
    }

    /// Appends `more`; bytes already in `freeSpace` (read there) are taken where they lie, or moved down
    /// when something else was read before them.
    public func append(_ more: UnsafeRawBufferPointer) {
        guard let source = more.baseAddress, !more.isEmpty else { return }
        let tail = base + count
        if source >= UnsafeRawPointer(tail), source + more.count <= UnsafeRawPointer(base + capacity) {
            if source != UnsafeRawPointer(tail) { memmove(tail, source, more.count) }
            count += more.count
            return
        }
        if count + more.count > capacity { grow(to: count + more.count) }
        (base + count).copyMemory(from: source, byteCount: more.count)
        count += more.count
    }

    public func removeAll() {
        count = 0
    }

    /// Moves the last `length` bytes to the end of `other`.
    public func moveTail(_ length: Int, to other: DirectIOBuffer) {
        precondition(length <= count)
        other.append(UnsafeRawBufferPointer(start: base + (count - length), count: length))
        count -= length
    }

    /// How many bytes of a write ending at `end` lie past the last block boundary: holding them back
    /// lets the next write start on a boundary.
    public static func overhang(endingAt end: Int64) -> Int {
        Int(end % Int64(alignment))
    }

    private func grow(to needed: Int) {
        let (moved, larger) = MappedBlockPool.take(Self.roundedUp(max(needed, capacity * 2)))
        moved.copyMemory(from: base, byteCount: count)
        MappedBlockPool.give(base, capacity)
        base = moved
        capacity = larger
    }

    private static func roundedUp(_ size: Int) -> Int {
        (size + alignment - 1) / alignment * alignment
    }
}
