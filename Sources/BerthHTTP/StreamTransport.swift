import CLibUV
import Glibc

/// The byte stream under a connection's state machine: a libuv TCP stream, read into its loop's one read
/// buffer and written with try-write-then-queue. Both connections (HTTPConnection, the upstream client's
/// UpstreamConnection) use it. TLS sits above it, in each connection (a memory-BIO session: the server's
/// HTTPConnection+TLS, the client's TLSSession): ciphertext is what goes through here (sendfile needs the
/// socket itself, which `descriptor` exposes). Loop-confined, like the stream it wraps.
public struct StreamTransport {
    public let stream: UnsafeMutablePointer<uv_stream_t>

    public init(_ tcp: UnsafeMutablePointer<uv_tcp_t>) {
        stream = UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
    }

    public var descriptor: Int32 {
        var fd = uv_os_fd_t(-1)
        uv_fileno(UnsafeMutableRawPointer(stream).assumingMemoryBound(to: uv_handle_t.self), &fd)
        return fd
    }

    /// True once the peer has closed or reset the connection, seen without taking a byte (a peek): for a
    /// request that waits long for its answer while the connection is not read (pipelined bytes count as open).
    public var peerHasClosed: Bool {
        var byte: UInt8 = 0
        let count = recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    }

    /// Bytes libuv still holds in queued writes.
    public var queuedBytes: Int { stream.pointee.write_queue_size }

    /// Starts reading; `didRead` gets the count (negative: an error or EOF), the bytes are the loop's
    /// `readBytes(count)` and are valid until the callback returns. The stream's `data` is the owner.
    public func startReading(_ didRead: uv_read_cb) {
        uv_read_start(stream, { handle, _, buffer in
            buffer!.pointee = StreamTransport.loopReadBuffer(of: handle!)
        }, didRead)
    }

    /// Starts reading into what `allocate` chooses for each read (`loopReadBuffer` when nothing better);
    /// `didRead` gets the count and that buffer.
    public func startReading(allocating allocate: uv_alloc_cb, _ didRead: uv_read_cb) {
        uv_read_start(stream, allocate, didRead)
    }

    /// The loop's one read buffer, for the loop of `handle`.
    public static func loopReadBuffer(of handle: UnsafeMutablePointer<uv_handle_t>) -> uv_buf_t {
        uv_buf_t(base: handle.pointee.loop.pointee.data.assumingMemoryBound(to: CChar.self), len: EventLoop.readBufferSize)
    }

    public func stopReading() {
        uv_read_stop(stream)
    }

    /// Writes what the socket takes at once, and queues the rest (copied) for libuv; `completion` runs once,
    /// with false when the stream failed.
    public func write(_ bytes: [UInt8], completion: @escaping (Bool) -> Void) {
        bytes.withUnsafeBytes { write($0, ifQueued: completion) }.complete(completion)
    }

    public enum WriteStart {
        /// The socket took every byte.
        case written
        /// The rest was copied and queued: the completion given runs when libuv is done with it.
        case queued
        case failed

        /// Runs `completion` now for what ended now; a queued write runs it itself.
        public func complete(_ completion: (Bool) -> Void) {
            switch self {
            case .written: completion(true)
            case .failed: completion(false)
            case .queued: break
            }
        }
    }

    /// Writes what the socket takes at once and queues a copy of the rest: `bytes` is not used after this
    /// returns, and `completion` runs only for `.queued` (never before this returns), so a caller can reuse the
    /// memory before it goes on (the TLS session's ciphertext buffer).
    public func write(_ bytes: UnsafeRawBufferPointer, ifQueued completion: @escaping (Bool) -> Void) -> WriteStart {
        guard !bytes.isEmpty else { return .written }
        var buffer = uv_buf_t(base: UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: CChar.self)), len: bytes.count)
        let result = uv_try_write(stream, &buffer, 1)
        let written = result >= 0 ? Int(result) : (result == Int32(UV_EAGAIN.rawValue) ? 0 : -1)
        if written == bytes.count { return .written }
        if written < 0 { return .failed }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[written...])
        return SocketWrite(copying: rest) { completion($0 == 0) }.start(on: stream) ? .queued : .failed
    }

    /// Ends both directions now, even while another thread is blocked in a send on the socket.
    public func shutdownNow() {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }
}
