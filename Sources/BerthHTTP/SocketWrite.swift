import CLibUV

/// A write the socket did not take at once (StreamTransport queues it); it owns its bytes until libuv is done with them.
final class SocketWrite {
    private let bytes: UnsafeMutableRawBufferPointer
    private let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private let completion: (Bool) -> Void

    init(bytes: ArraySlice<UInt8>, completion: @escaping (Bool) -> Void) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0) }
        self.bytes = copy
        self.completion = completion
    }

    deinit {
        bytes.deallocate()
        request.deallocate()
    }

    /// Queues the write; `completion` runs once, with false when the stream failed or refused it.
    func start(on stream: UnsafeMutablePointer<uv_stream_t>) {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var buffer = uv_buf_t(base: bytes.baseAddress!.assumingMemoryBound(to: CChar.self), len: bytes.count)
        let status = uv_write(request, stream, &buffer, 1) { request, status in
            let write = Unmanaged<SocketWrite>.fromOpaque(request!.pointee.data).takeRetainedValue()
            write.completion(status == 0)
        }
        if status != 0 {
            Unmanaged<SocketWrite>.fromOpaque(request.pointee.data).release()
            completion(false)
        }
    }
}
