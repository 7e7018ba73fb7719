import BerthHTTP
import BerthStorage

/// Streams a request body into an upload: bytes gather in one buffer on the loop, then are hashed and
/// written on the pool while the next buffer fills; reading pauses when both are busy (back-pressure).
/// Loop-confined.
final class UploadBodyWriter: HTTPBodyReceiver {
    private static let flushThreshold = 1 << 20

    private let session: UploadSession
    private let loop: EventLoop
    private let completion: (Result<UploadSession, Error>) -> Void
    /// The buffer filling on the loop and the one last written, kept for reuse; each made when first needed,
    /// so a body that fits one buffer never takes two.
    private var pending: DirectIOBuffer?
    private var spare: DirectIOBuffer?
    private let bufferCapacity: Int
    private var writing = false
    private var bodyDone = false
    private var aborted = false
    private var failure: Error?
    private var bodyPaused = false

    /// When set, an upload whose connection ends mid-body is removed instead of kept for resumption
    /// (a monolithic upload: the client never learned where to resume).
    private let discardOnAbort: Bool

    /// `completion` runs on the loop once the whole body is written and checkpointed, or on the first failure.
    init(session: UploadSession, loop: EventLoop, discardOnAbort: Bool, expectedLength: Int64?,
         completion: @escaping (Result<UploadSession, Error>) -> Void) {
        self.session = session
        self.loop = loop
        self.discardOnAbort = discardOnAbort
        self.completion = completion
        // Sized for this body: small pushes must not each hold a full megabyte.
        bufferCapacity = Int(min(expectedLength ?? Int64(Self.flushThreshold), Int64(Self.flushThreshold))) + 64 * 1024
    }

    func receive(_ bytes: UnsafeRawBufferPointer, exchange: HTTPExchange) {
        guard failure == nil else { return }
        let buffer = pending ?? takeBuffer()
        pending = buffer
        buffer.append(bytes)
        guard buffer.count >= Self.flushThreshold else { return }
        if writing {
            if !bodyPaused { bodyPaused = true; exchange.pauseBody() }
        } else {
            flush(exchange)
        }
    }

    func finish(exchange: HTTPExchange) {
        bodyDone = true
        if !writing { flushOrCheckpoint(exchange) }
    }

    func abort(exchange: HTTPExchange) {
        aborted = true
        // Keep what was received, at a checkpoint, so the client can ask where the upload stands and go on.
        if !writing { flushOrCheckpoint(exchange) }
    }

    private func flushOrCheckpoint(_ exchange: HTTPExchange) {
        if let pending, !pending.isEmpty && failure == nil {
            flush(exchange)
        } else {
            checkpoint()
        }
    }

    /// Writes and hashes one buffer on the pool while the next one fills.
    private func flush(_ exchange: HTTPExchange) {
        guard let chunk = pending else { return }
        writing = true
        pending = nil
        let start = session.offset
        if !bodyDone && !aborted {
            // Until the body ends, write whole blocks only, so that every write starts on a block boundary
            // and goes to the disk directly; the bytes past the last boundary lead the next buffer.
            let overhang = DirectIOBuffer.overhang(endingAt: start + Int64(chunk.count))
            if overhang > 0 && overhang < chunk.count {
                let next = takeBuffer()
                chunk.moveTail(overhang, to: next)
                pending = next
            }
        }
        loop.writeAndHash(chunk, from: session.hashSnapshot, write: { [session] in try session.write($0, at: start) }) { [self] result in
            switch result {
            case .success(let next):
                session.accept(next)
                finishedFlush(chunk, error: nil, exchange)
            case .failure(let error):
                finishedFlush(chunk, error: error, exchange)
            }
        }
    }

    private func takeBuffer() -> DirectIOBuffer {
        defer { spare = nil }
        return spare ?? DirectIOBuffer(capacity: bufferCapacity)
    }

    private func finishedFlush(_ buffer: DirectIOBuffer, error: Error?, _ exchange: HTTPExchange) {
        writing = false
        buffer.removeAll()
        spare = buffer
        if let error, failure == nil {
            failure = error
            pending = nil
            completion(.failure(error))
        }
        if bodyDone || aborted {
            flushOrCheckpoint(exchange)
        } else if (pending?.count ?? 0) >= Self.flushThreshold {
            flush(exchange)
        }
        // Resume even after a failure: the answer is out and the rest of the body is read and dropped.
        if bodyPaused {
            bodyPaused = false
            exchange.resumeBody()
        }
    }

    private func checkpoint() {
        // After a failure the upload stays at its last checkpoint (or is being removed): nothing to save.
        guard failure == nil else { return }
        let session = self.session
        if aborted && discardOnAbort {
            loop.offload({ session.cancel() }, then: {})
            return
        }
        let reportable = !aborted
        loop.offload({ () -> Error? in
            do { try session.checkpoint(); return nil } catch { return error }
        }, then: { [self] error in
            guard reportable else { return }
            if let error { completion(.failure(error)) } else { completion(.success(session)) }
        })
    }
}
