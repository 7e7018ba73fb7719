import CLibUV

/// A write the socket did not take at once, queued in libuv; it owns a copy of its bytes until libuv is done
/// with them. Used by StreamTransport (the server's and the upstream client's connections) and by the bench
/// harness's TLS channel: each decides what libuv's status means to it (a closed stream cancels its queued
/// writes with `-ECANCELED`, which the harness does not count as a failure).
public final class SocketWrite {
    private let bytes: UnsafeMutableRawBufferPointer
    private let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    /// libuv's status: 0 when every byte went out, else a negative errno.
    private let completion: (_ status: Int32) -> Void

    public init(copying bytes: UnsafeRawBufferPointer, completion: @escaping (_ status: Int32) -> Void) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        copy.copyMemory(from: bytes)
        self.bytes = copy
        self.completion = completion
    }

    deinit {
        bytes.deallocate()
        request.deallocate()
    }

    /// Queues the write; `completion` runs once libuv is done with it. False when the stream refused it at
    /// once: then `completion` never runs.
    public func start(on stream: UnsafeMutablePointer<uv_stream_t>) -> Bool {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var buffer = uv_buf_t(base: bytes.baseAddress!.assumingMemoryBound(to: CChar.self), len: bytes.count)
        let status = uv_write(request, stream, &buffer, 1) { request, status in
            let write = Unmanaged<SocketWrite>.fromOpaque(request!.pointee.data).takeRetainedValue()
            write.completion(status)
        }
        guard status == 0 else {
            Unmanaged<SocketWrite>.fromOpaque(request.pointee.data).release()
            return false
        }
        return true
    }
}
