/// The life of one blob upload (OCI dist-spec "Pushing blobs"), as pure transitions: every event
/// returns the action the caller performs; no I/O here, so every transition is unit-tested.
public struct UploadStateMachine: Equatable {
    public enum State: Equatable {
        case receiving(offset: Int64)
        case committing(offset: Int64)
        case committed(Digest)
        case cancelled
    }

    public enum Rejection: Error, Equatable {
        /// The chunk does not start where the upload stands: 416 with the current range.
        case rangeNotSatisfiable(current: Int64)
        /// Content-Range and Content-Length disagree.
        case lengthMismatch(range: Int64, declared: Int64)
        /// The upload is being committed, or is already committed or cancelled.
        case notReceiving
    }

    public enum Action: Equatable {
        /// Write the body at this offset, hashing as it goes.
        case append(at: Int64)
        /// Verify the digest of everything received against `expected`, then move it into place.
        case commit(expected: Digest, size: Int64)
        /// Remove the upload's files.
        case discard
        case reject(Rejection)
    }

    public private(set) var state: State

    public init(offset: Int64) {
        state = .receiving(offset: offset)
    }

    public var offset: Int64? {
        switch state {
        case .receiving(let offset), .committing(let offset): return offset
        case .committed, .cancelled: return nil
        }
    }

    /// A chunk arrives, with `Content-Range: first-last` (inclusive) when the client sent one.
    public func chunk(range: ClosedRange<Int64>?, declaredLength: Int64?) -> Action {
        guard let range else {
            guard case .receiving(let offset) = state else { return .reject(.notReceiving) }
            return .append(at: offset)
        }
        // 0-9223372036854775807 is 2^63 bytes, one more than an Int64 holds: no body can be that long.
        let (span, spanOverflow) = range.upperBound.subtractingReportingOverflow(range.lowerBound)
        let (length, overflow) = span.addingReportingOverflow(1)
        return chunk(at: range.lowerBound, length: spanOverflow || overflow ? nil : length, declaredLength: declaredLength)
    }

    /// A chunk of bytes `start..<end` arrives (Kraken's `Content-Range: start-end`), which may be empty.
    /// The body's length is held against the range before the range against the upload, as Berth's Kraken
    /// API has always answered a request wrong in both ways (400, not 416).
    public func chunk(from start: Int64, to end: Int64, declaredLength: Int64?) -> Action {
        let (length, overflow) = end.subtractingReportingOverflow(start)
        guard !overflow, length >= 0 else { return chunk(at: start, length: nil, declaredLength: declaredLength) }
        if case .receiving = state, let declaredLength, declaredLength != length {
            return .reject(.lengthMismatch(range: length, declared: declaredLength))
        }
        return chunk(at: start, length: length, declaredLength: declaredLength)
    }

    /// `length` nil: a range no body can fill.
    private func chunk(at start: Int64, length: Int64?, declaredLength: Int64?) -> Action {
        guard case .receiving(let offset) = state else { return .reject(.notReceiving) }
        guard start == offset, let length else { return .reject(.rangeNotSatisfiable(current: offset)) }
        if let declaredLength, declaredLength != length {
            return .reject(.lengthMismatch(range: length, declared: declaredLength))
        }
        return .append(at: offset)
    }

    /// `count` bytes were written and hashed.
    public mutating func received(_ count: Int64) {
        guard case .receiving(let offset) = state else { return }
        state = .receiving(offset: offset + count)
    }

    /// The client closes the upload with `PUT ?digest=`, after any final chunk.
    public mutating func complete(expected: Digest) -> Action {
        guard case .receiving(let offset) = state else { return .reject(.notReceiving) }
        state = .committing(offset: offset)
        return .commit(expected: expected, size: offset)
    }

    /// The verification's outcome. registry:2 cancels an upload whose digest does not match, and so do we.
    public mutating func verified(_ computed: Digest, expected: Digest) -> Action? {
        guard case .committing = state else { return nil }
        if computed == expected {
            state = .committed(computed)
            return nil
        }
        state = .cancelled
        return .discard
    }

    public mutating func cancel() -> Action {
        switch state {
        case .receiving, .committing:
            state = .cancelled
            return .discard
        case .committed, .cancelled:
            return .reject(.notReceiving)
        }
    }
}
