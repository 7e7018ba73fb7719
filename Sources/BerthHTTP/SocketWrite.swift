import CLibUV

/// A write the socket did not take at once (StreamTransport queues it); it owns its bytes until libuv is done with them.
final class SocketWrite {
    private let bytes: UnsafeMutableRawBufferPointer
    private let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private let completion: (Bool) -> Void

    init(copying bytes: UnsafeRawBufferPointer, completion: @escaping (Bool) -> Void) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        copy.copyMemory(from: bytes)
        self.bytes = copy
        self.completion = completion
    }

    deinit {
        bytes.deallocate()
        request.deallocate()
    }

    /// Queues the write; `completion` runs once libuv is done with it (false: the stream failed). False when
    /// the stream refused it at once: then `completion` never runs.
    func start(on stream: UnsafeMutablePointer<uv_stream_t>) -> Bool {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var buffer = uv_buf_t(base: bytes.baseAddress!.assumingMemoryBound(to: CChar.self), len: bytes.count)
        let status = uv_write(request, stream, &buffer, 1) { request, status in
            let write = Unmanaged<SocketWrite>.fromOpaque(request!.pointee.data).takeRetainedValue()
            write.completion(status == 0)
        }
        guard status == 0 else {
            Unmanaged<SocketWrite>.fromOpaque(request.pointee.data).release()
            return false
        }
        return true
    }
}
