/// Bytes at an address that does not move for the run: request bodies that libuv writes from directly.
public final class PinnedBytes {
    public let buffer: UnsafeMutableRawBufferPointer

    public init(_ bytes: [UInt8]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        self.buffer = buffer
        count = bytes.count
    }

    public let count: Int

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: buffer.baseAddress, count: count) }

    deinit {
        buffer.deallocate()
    }
}
