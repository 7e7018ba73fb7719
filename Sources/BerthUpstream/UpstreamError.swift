import CLibUV

/// Why an upstream exchange ended without a complete response. The mirror maps these to its own answers
/// (a timeout is a 504, most of the rest a 502), so each case names the failure, not the symptom.
public enum UpstreamError: Error, Equatable, CustomStringConvertible {
    public enum Phase: String, Equatable {
        /// Name resolution, TCP connect and the TLS handshake, together.
        case connect
        /// No byte of the response for the read timeout, while the handler was not pausing it.
        case read
    }

    case invalidURL(String)
    case dnsFailure(host: String, reason: String)
    case connectionRefused(host: String, port: Int)
    case connectFailed(host: String, port: Int, reason: String)
    case tlsHandshakeFailed(host: String, reason: String)
    case tlsVerificationFailed(host: String, reason: String)
    /// The CA file or the TLS context could not be set up (a configuration error, found at start).
    case tlsConfiguration(String)
    case timeout(Phase, host: String, milliseconds: UInt64)
    case malformedResponse(String)
    /// The connection ended (EOF or reset) before the response was complete.
    case peerClosed(String)
    case cancelled
    case responseTooLarge(limit: Int)
    case tooManyRedirects(Int)
    /// A registry's token endpoint refused us, or answered something that is not a token.
    case authenticationFailed(String)
    /// The egress proxy (`host:port`, never its credentials) could not be resolved, connected to, or did
    /// not answer in the connect timeout; `reason` is the underlying failure's.
    case proxyUnreachable(proxy: String, reason: String)
    /// The egress proxy answered the CONNECT to `upstream` with a failure status (407, 403, 502...).
    case proxyRefused(proxy: String, upstream: String, status: Int, reason: String)
    /// The egress proxy closed the connection or answered something that is not HTTP to the CONNECT.
    case proxyFailed(proxy: String, reason: String)

    public var description: String {
        switch self {
        case .invalidURL(let text): return "invalid upstream URL: \(text)"
        case .dnsFailure(let host, let reason): return "cannot resolve \(host): \(reason)"
        case .connectionRefused(let host, let port): return "connection to \(host):\(port) refused"
        case .connectFailed(let host, let port, let reason): return "cannot connect to \(host):\(port): \(reason)"
        case .tlsHandshakeFailed(let host, let reason): return "TLS handshake with \(host) failed: \(reason)"
        case .tlsVerificationFailed(let host, let reason): return "TLS certificate of \(host) not trusted: \(reason)"
        case .tlsConfiguration(let reason): return "TLS configuration: \(reason)"
        case .timeout(let phase, let host, let milliseconds):
            return phase == .connect
                ? "connecting to \(host) took longer than \(milliseconds) ms"
                : "\(host) sent nothing for \(milliseconds) ms"
        case .malformedResponse(let reason): return "malformed response: \(reason)"
        case .peerClosed(let detail): return "upstream closed the connection \(detail)"
        case .cancelled: return "cancelled"
        case .responseTooLarge(let limit): return "response body larger than \(limit) bytes"
        case .tooManyRedirects(let count): return "more than \(count) redirects"
        case .authenticationFailed(let reason): return "authentication failed: \(reason)"
        case .proxyUnreachable(let proxy, let reason): return "cannot reach the egress proxy \(proxy): \(reason)"
        case .proxyRefused(let proxy, let upstream, let status, let reason):
            return "the egress proxy \(proxy) refused the tunnel to \(upstream): \(status) \(reason)"
        case .proxyFailed(let proxy, let reason): return "the egress proxy \(proxy) failed: \(reason)"
        }
    }

    /// The kind of failure in a few words, without the addresses, realms and TLS library texts that
    /// `description` carries: what a client may be told ("connection refused", "timed out"). A failure of
    /// the egress proxy names the proxy's `host:port`, so that it is not taken for the upstream's.
    public var reason: String {
        switch self {
        case .invalidURL: return "its URL is invalid"
        case .dnsFailure: return "its name does not resolve"
        case .connectionRefused: return "connection refused"
        case .connectFailed: return "connection failed"
        case .tlsHandshakeFailed: return "TLS handshake failed"
        case .tlsVerificationFailed: return "its TLS certificate is not trusted"
        case .tlsConfiguration: return "TLS is misconfigured here"
        case .timeout(let phase, _, _): return phase == .connect ? "timed out connecting" : "timed out waiting for an answer"
        case .malformedResponse: return "malformed response"
        case .peerClosed: return "it closed the connection early"
        case .cancelled: return "cancelled"
        case .responseTooLarge: return "response too large"
        case .tooManyRedirects: return "too many redirects"
        case .authenticationFailed: return "authentication failed"
        case .proxyUnreachable(let proxy, let reason): return "the egress proxy \(proxy) could not be reached (\(reason))"
        case .proxyRefused(let proxy, _, let status, let reason):
            return "the egress proxy \(proxy) refused the tunnel (\(status)\(reason.isEmpty ? "" : " " + reason))"
        case .proxyFailed(let proxy, let reason): return "the egress proxy \(proxy) failed (\(reason))"
        }
    }

    /// The upstream cannot be reached at all (503 rather than 502).
    public var isUnreachable: Bool {
        switch self {
        case .dnsFailure, .connectionRefused, .connectFailed, .timeout, .proxyUnreachable: return true
        // The proxy's own word that it could not reach the upstream (RFC 9110 §15.6.3-5).
        case .proxyRefused(_, _, let status, _): return (502...504).contains(status)
        default: return false
        }
    }

    /// Failures that a stale keep-alive connection produces: the peer closed it while it sat in the pool.
    var isStaleConnectionSymptom: Bool {
        if case .peerClosed = self { return true }
        return false
    }
}

func uvErrorName(_ status: Int32) -> String {
    String(cString: uv_strerror(status))
}
