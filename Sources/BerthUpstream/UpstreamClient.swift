import BerthHTTP

/// The HTTP layer under `RegistryClient`: an HTTP/1.1 client, plain or TLS, direct or through an egress
/// proxy (`Configuration.egress`), with a keep-alive pool per origin and route; it knows nothing of registries.
/// Loop-confined: `send` and every handler call happen on the loop's thread.
public final class UpstreamClient {
    public struct Configuration {
        /// Resolution, TCP connect and TLS handshake together.
        public var connectTimeoutMilliseconds: UInt64 = 10_000
        /// Longest silence from the upstream while a response is awaited or streaming (pauses excepted).
        public var readTimeoutMilliseconds: UInt64 = 60_000
        /// A pooled connection unused this long is closed, before the upstream's own timeout races a request.
        public var idleTimeoutMilliseconds: UInt64 = 30_000
        public var maxIdleConnectionsPerOrigin = 4
        public var tls = UpstreamTLSConfiguration()
        public var userAgent = "berth"
        /// Which origins are reached through which HTTP proxy; empty: every one directly.
        public var egress = EgressProxySettings()

        public init() {}
    }

    public let loop: EventLoop
    public let configuration: Configuration
    let tlsContext: TLSContext
    private var idle: [UpstreamRoute: [UpstreamConnection]] = [:]
    /// Every connection not yet closed, so `shutdown` can reach the busy ones too.
    private var live: [ObjectIdentifier: UpstreamConnection] = [:]
    private var shutDown = false
    /// Connections opened so far (pooled reuse does not count).
    public private(set) var connectionsOpened = 0
    /// Of those, the ones opened through an egress proxy.
    public private(set) var proxiedConnectionsOpened = 0

    /// Throws `UpstreamError.tlsConfiguration` when the CA file cannot be loaded.
    public init(loop: EventLoop, configuration: Configuration = Configuration()) throws {
        self.loop = loop
        self.configuration = configuration
        tlsContext = try TLSContext(configuration.tls)
    }

    /// Sends `request`; the handler hears of its response, or of its failure, through the returned exchange.
    /// A failure known at once (after `shutdown`, an unusable host name) ends the handler before this returns.
    @discardableResult
    public func send(_ request: UpstreamRequest, to handler: UpstreamResponseHandler) -> UpstreamExchange {
        let exchange = UpstreamExchange(request: request, handler: handler)
        if shutDown {
            exchange.finish(.cancelled)
        } else {
            dispatch(exchange, pooled: true)
        }
        return exchange
    }

    /// Connections in the pool, over every origin.
    public var idleConnectionCount: Int {
        idle.values.reduce(0) { $0 + $1.count }
    }

    /// Closes pooled connections and cancels exchanges in progress; later sends end at once with `.cancelled`.
    public func shutdown() {
        guard !shutDown else { return }
        shutDown = true
        for connection in Array(live.values) {
            if let exchange = connection.currentExchange { exchange.cancel() } else { connection.close() }
        }
    }

    private func dispatch(_ exchange: UpstreamExchange, pooled: Bool) {
        let origin = exchange.request.url.origin
        let route = UpstreamRoute(origin: origin, proxy: configuration.egress.proxy(for: origin))
        if pooled, let connection = idle[route]?.popLast() {
            connection.begin(exchange)
            return
        }
        let connection = UpstreamConnection(client: self, route: route)
        live[ObjectIdentifier(connection)] = connection
        connectionsOpened += 1
        if route.proxy != nil { proxiedConnectionsOpened += 1 }
        connection.open(for: exchange)
    }

    /// Takes a connection whose exchange completed cleanly; false when the pool for its origin is full.
    func park(_ connection: UpstreamConnection) -> Bool {
        guard !shutDown, idle[connection.route, default: []].count < configuration.maxIdleConnectionsPerOrigin else { return false }
        idle[connection.route, default: []].append(connection)
        return true
    }

    func connectionClosed(_ connection: UpstreamConnection) {
        live[ObjectIdentifier(connection)] = nil
        idle[connection.route]?.removeAll { $0 === connection }
    }

    /// A pooled connection may have been closed by the peer just as we reused it; nothing of the response
    /// came, so the request goes once more on a fresh connection. RFC 9110 §9.2.2: only when repeating it is
    /// harmless, since the first copy may have reached the upstream.
    func exchange(_ exchange: UpstreamExchange, failed error: UpstreamError, onReusedConnection reused: Bool) {
        guard !exchange.hasEnded else { return }
        if reused, !shutDown, !exchange.retried, !exchange.responseStarted, error.isStaleConnectionSymptom, exchange.request.isIdempotent {
            exchange.retried = true
            Log.debug("upstream \(exchange.request.url.origin): retrying \(exchange.request.method) \(exchange.request.url.target) on a new connection after: \(error)")
            dispatch(exchange, pooled: false)
            return
        }
        exchange.finish(error)
    }
}

/// What a pooled connection is bound to: its upstream origin and the proxy it goes through, if any. A
/// tunnel carries TLS to one upstream, so it serves only that origin; a plain connection to a proxy is
/// kept per origin too, so that each upstream's pool limit and idle timeout hold as they do direct.
struct UpstreamRoute: Hashable {
    var origin: UpstreamOrigin
    var proxy: ProxyEndpoint?
}
