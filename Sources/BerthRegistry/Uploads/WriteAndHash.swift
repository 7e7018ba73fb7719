import BerthHTTP
import BerthStorage

extension EventLoop {
    /// Writes `buffer` and hashes it from `snapshot` on two pool threads at once, so the slower of the two
    /// sets the pace, not their sum; `done` runs on the loop with the hash state after the buffer, or the
    /// write's error. Nobody may append to `buffer` until then.
    func writeAndHash(_ buffer: DirectIOBuffer, from snapshot: SHA256Hasher,
                      write: @escaping (UnsafeRawBufferPointer) throws -> Void,
                      then done: @escaping (Result<SHA256Hasher, Error>) -> Void) {
        var writeError: Error?
        var next: SHA256Hasher?
        var outstanding = 2
        let joined = {
            outstanding -= 1
            guard outstanding == 0 else { return }
            if let writeError { done(.failure(writeError)) } else { done(.success(next!)) }
        }
        offload({ () -> Error? in
            do { try write(buffer.bytes); return nil } catch { return error }
        }, then: { error in
            writeError = error
            joined()
        })
        offload({ () -> SHA256Hasher in
            var state = snapshot
            state.update(buffer.bytes)
            return state
        }, then: { state in
            next = state
            joined()
        })
    }
}
