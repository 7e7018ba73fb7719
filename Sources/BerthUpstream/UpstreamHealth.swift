/// Whether an upstream answers, as the last exchange with it showed, and when it last failed: what the
/// mirror logs when it changes and `/readyz` reports. A value; the times are the caller's (Unix seconds).
public struct UpstreamHealth: Equatable {
    public enum State: Equatable {
        /// Nothing was asked of it yet.
        case unchecked
        case answering
        /// The reason is a kind of failure (`UpstreamError.reason`, "answered 503"), never an address.
        case failing(reason: String)
    }

    public struct Failure: Equatable {
        public var seconds: Int
        public var reason: String
    }

    public private(set) var state = State.unchecked
    /// Kept once the upstream answers again: when it last failed, and why.
    public private(set) var lastFailure: Failure?

    public init() {}

    /// An answer below 500 (a 401 or 404 is the upstream answering). True when the state changed.
    public mutating func answered() -> Bool {
        defer { state = .answering }
        return state != .answering
    }

    /// A failure to reach it, or a 5xx. True when the state changed (a new reason counts as a change).
    public mutating func failed(_ reason: String, at seconds: Int) -> Bool {
        lastFailure = Failure(seconds: seconds, reason: reason)
        defer { state = .failing(reason: reason) }
        return state != .failing(reason: reason)
    }

    /// The upstream's answer to a request, as health: nil when it says nothing of the upstream (the
    /// exchange was cancelled here, or its body was larger than the caller takes).
    public static func reason(for error: UpstreamError) -> String? {
        switch error {
        case .cancelled, .responseTooLarge: return nil
        default: return error.reason
        }
    }
}
