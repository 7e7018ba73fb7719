import BerthTLS
import CBerthShims
import Glibc

/// TLS on a server connection: ciphertext read from the socket goes into the session and comes out as
/// plaintext for the parser; what the connection writes is encrypted first. A file body cannot go out by
/// sendfile(2) over TLS without kernel TLS, which this kernel lacks (`/proc/sys/net/ipv4/tcp_available_ulp`
/// lists only `mptcp`): it is read into a reused buffer and written in 16 KiB records instead (the
/// "fallback" path of `berth_tls_body_bytes_total`).
extension HTTPConnection {
    /// How much of a file body is read and encrypted at once: large reads, few wake-ups, and at most this
    /// much waiting in libuv for the socket (the back-pressure: the next chunk is read when it is out).
    static let tlsBodyChunk = 256 * 1024

    /// The buffers of one TLS connection, reused for its whole life. Loop-confined.
    final class TLSBuffers {
        /// SSL_read returns one record at most: 16 KiB of plaintext.
        let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: TLSServerSession.recordSize, alignment: 16)
        /// Whether the client has sent anything yet (only its first bytes can be a plain HTTP request).
        var receivedAny = false
        private var bodyStorage: UnsafeMutableRawBufferPointer?

        /// Made on the first file body: most connections (manifests, small answers) never need it.
        var body: UnsafeMutableRawBufferPointer {
            if let bodyStorage { return bodyStorage }
            let made = UnsafeMutableRawBufferPointer.allocate(byteCount: HTTPConnection.tlsBodyChunk, alignment: 4096)
            bodyStorage = made
            return made
        }

        deinit {
            plaintext.deallocate()
            bodyStorage?.deallocate()
        }
    }

    /// Moves the handshake on, then decrypts for the parser while it takes input. Records left inside the
    /// session when it stops (an answer is pending, the body is held) are decrypted when reading resumes.
    func pumpTLS() {
        guard let tls, let buffers = tlsBuffers, !pumpingTLS, !machine.isClosed else { return }
        pumpingTLS = true
        defer { pumpingTLS = false }
        if machine.isHandshaking {
            let step = tls.handshake()
            flushTLS()
            switch step {
            case .wantMore:
                return
            case .failed(let reason):
                Log.info("\(remoteAddress): TLS handshake failed: \(reason)")
                close()
                return
            case .done:
                machine.handshakeDone(now: server.loop.now)
            }
        }
        while parserTakesInput {
            switch tls.read(into: buffers.plaintext) {
            case .bytes(let count):
                feed(UnsafeRawBufferPointer(rebasing: buffers.plaintext[..<count]))
            case .wantMore:
                flushTLS()
                return
            case .closed:
                close()
                return
            case .failed(let reason):
                Log.debug("\(remoteAddress): TLS: \(reason)")
                close()
                return
            }
        }
        flushTLS()
    }

    /// Go's net/http answers a plain HTTP request on its TLS port with this, so that a client (curl given
    /// http://, docker falling back to plain HTTP for a loopback registry) shows why instead of an EOF.
    static let plainHTTPAnswer = Array("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n".utf8)

    /// Whether the first bytes of the connection are a plain HTTP request, as Go tells (the first five bytes,
    /// where a TLS record header stands): then it is answered `plainHTTPAnswer` and closed.
    func refusesPlainHTTP(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let buffers = tlsBuffers, !buffers.receivedAny else { return false }
        buffers.receivedAny = true
        guard bytes.count >= 5, Self.plainHTTPStarts.contains(where: { bytes.starts(with: $0) }) else { return false }
        Log.info("\(remoteAddress): a plain HTTP request on the TLS port: answered 400")
        stopReading()
        transport.write(Self.plainHTTPAnswer) { [self] _ in close() }
        return true
    }

    private static let plainHTTPStarts = ["GET /", "HEAD ", "POST ", "PUT /", "OPTIO"].map { Array($0.utf8) }

    /// Sends what the session produced by itself (handshake records, tickets, alerts).
    private func flushTLS() {
        _ = sendCiphertext { _ in }
    }

    /// Writes the session's pending ciphertext from where it lies and empties it before any completion can
    /// run (a completion that answers the next pipelined request writes into the same buffer); `completion`
    /// runs only for a queued rest, as `StreamTransport.write(_:ifQueued:)` says.
    func sendCiphertext(ifQueued completion: @escaping (Bool) -> Void) -> StreamTransport.WriteStart {
        guard let tls else { return .written }
        let start = transport.write(tls.pendingCiphertext, ifQueued: completion)
        tls.emptyCiphertext()
        return start
    }

    /// `[offset, end)` of a file over TLS: chunks read with pread(2) on the loop when they are in the page
    /// cache and on the pool when they are not (a disk read never stalls the loop), encrypted, written, and
    /// the next chunk read once the socket took the last one. A growing file is followed as `transfer` does.
    func sendBodyOverTLS(_ file: OpenFile, growing progress: GrowingFile?, from start: Int64, to end: Int64, exchange: HTTPExchange) {
        guard let buffers = tlsBuffers else { return }
        var offset = start
        while offset < end {
            guard !machine.isClosed else { return }
            let available = progress.map { min($0.availableBytes, end) } ?? end
            if let progress, available <= offset {
                let position = offset
                progress.whenAvailable(beyond: position) { [weak self] ok in
                    guard let self, ok, !self.machine.isClosed else { self?.close(); return }
                    self.sendBodyOverTLS(file, growing: progress, from: position, to: end, exchange: exchange)
                }
                return
            }
            let count = Int(min(Int64(Self.tlsBodyChunk), available - offset))
            let position = offset
            let next = { [unowned self] in
                sendBodyOverTLS(file, growing: progress, from: position + Int64(count), to: end, exchange: exchange)
            }
            let buffer = buffers.body
            if berth_is_cached(file.descriptor, position + Int64(count) - 1) != 1 {
                server.loop.offload({ pread(file.descriptor, buffer.baseAddress, count, off_t(position)) }, then: { [self] read in
                    guard !machine.isClosed else { return }
                    guard read == count else { close(); return }
                    if emitBodyChunk(count, exchange: exchange, next: next) { next() }
                })
                return
            }
            guard pread(file.descriptor, buffer.baseAddress, count, off_t(position)) == count else {
                close()
                return
            }
            guard emitBodyChunk(count, exchange: exchange, next: next) else { return }
            offset += Int64(count)
        }
        responseFinished()
    }

    /// Encrypts the body buffer's first `count` bytes and writes them. True when the socket took them at once
    /// (the caller goes on); otherwise `next` runs once they are out, or the connection closes.
    private func emitBodyChunk(_ count: Int, exchange: HTTPExchange, next: @escaping () -> Void) -> Bool {
        guard let tls, let buffers = tlsBuffers, tls.write(UnsafeRawBufferPointer(rebasing: buffers.body[..<count])) else {
            close()
            return false
        }
        exchange.bytesSent += Int64(count)
        exchange.tlsFallbackBodyBytes += Int64(count)
        let start = sendCiphertext(ifQueued: { [self] ok in
            guard ok, !machine.isClosed else { close(); return }
            next()
        })
        switch start {
        case .written: return true
        case .queued: return false
        case .failed:
            close()
            return false
        }
    }
}
