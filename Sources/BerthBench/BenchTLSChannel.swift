import BerthHTTP
import BerthUpstream
import CLibUV
import Glibc

/// TLS under one harness connection: BerthUpstream's `TLSSession` (the mirror's client's, over two BIOs) with
/// the connection's socket beneath it. A new one per connect. Ciphertext the socket does not take at once goes
/// out in BerthHTTP's `SocketWrite`, which owns a copy; TLS targets are not the raw-rate path (`perf` shows
/// the cipher, not the copy). Loop-confined; its connection owns it.
final class BenchTLSChannel {
    enum Read {
        /// Plaintext in `plaintext[..<count]`.
        case bytes(Int)
        case wantMore
        case ended(String?)
    }

    let session: TLSSession
    private(set) var handshaken = false
    let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 * 1024, alignment: 16)

    init(context: TLSContext, host: String) throws {
        session = try TLSSession(context: context, host: host)
    }

    deinit {
        plaintext.deallocate()
    }

    /// One handshake step over what was lent: nil while it goes on, else whether it ended well (and why not).
    func handshake() -> (ok: Bool, reason: String?)? {
        switch session.handshake() {
        case .done:
            handshaken = true
            return (true, nil)
        case .wantMore: return nil
        case .failed(let error): return (false, error.reason)
        }
    }

    func read() -> Read {
        switch session.read(into: plaintext) {
        case .bytes(let count): return .bytes(count)
        case .wantMore: return .wantMore
        case .closed: return .ended(nil)
        case .failed(let reason): return .ended(reason)
        }
    }

    /// Encrypts a request's head and body; false when OpenSSL refused.
    func write(head: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> Bool {
        session.write(Array(head)) && (body.isEmpty || session.write(Array(body)))
    }

    /// Sends what OpenSSL produced; false when the socket failed at once. A later failure ends the stream
    /// through `failed` (not after our own close, which cancels the write).
    func flush(_ stream: UnsafeMutablePointer<uv_stream_t>, failed: @escaping () -> Void) -> Bool {
        let bytes = session.takeCiphertext()
        guard !bytes.isEmpty else { return true }
        let taken = bytes.withUnsafeBytes { raw -> Int32 in
            var buffer = uv_buf_t(base: UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: CChar.self)), len: raw.count)
            return uv_try_write(stream, &buffer, 1)
        }
        if Int(taken) == bytes.count { return true }
        if taken < 0, taken != -EAGAIN { return false }  // UV_EAGAIN is -EAGAIN on Linux
        // Our own close cancels a queued write (-ECANCELED): that is no failure of the stream.
        return bytes[Int(max(taken, 0))...].withUnsafeBytes { rest in
            SocketWrite(copying: rest) { status in
                if status != 0, status != -ECANCELED { failed() }
            }.start(on: stream)
        }
    }
}
