import BerthTLS
import CBerthShims
import CLibUV
import Glibc

public struct HTTPServerError: Error, CustomStringConvertible {
    public let description: String
}

/// Accepts connections on one listening socket and runs them on the loop until SIGINT/SIGTERM/SIGQUIT drains it.
/// Loop-confined.
public final class HTTPServer {
    public let loop: EventLoop
    let handler: HTTPHandler
    let limits: HTTPLimits
    /// Headers every response carries (the application's protocol version, for example).
    public var defaultHeaders: [(name: String, value: String)] = [] {
        didSet {
            var bytes: [UInt8] = []
            for (name, value) in defaultHeaders { HTTPResponse.appendHeader(name, value, to: &bytes) }
            defaultHeaderBytes = bytes
        }
    }
    /// `defaultHeaders` serialized once, for every answer's head.
    private(set) var defaultHeaderBytes: [UInt8] = []
    /// Called once every connection has closed after a shutdown signal.
    public var onDrained: (() -> Void)?
    /// Called on SIGHUP, which never stops the server (a terminal's hang-up reaches every process of the
    /// group; reloading is the supervisor's). Unset, SIGHUP is ignored.
    public var onHangUp: (() -> Void)?

    /// Set: every connection accepted speaks TLS with it. Replaced on a reload (a new certificate); a
    /// connection keeps the context it began with.
    public var tlsContext: TLSServerContext?

    private let listener = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    /// Open connections by client address, kept only while `limits.maxConnectionsPerClient` is set.
    private var connectionsByClient: [ClientAddress: Int] = [:]
    /// Connections refused over that limit since the last sweep: one log line a second, not one per refusal.
    private var refusedOverClientLimit = 0
    private var sweeper: RepeatingTimer?
    private var signalHandles: [UnsafeMutablePointer<uv_signal_t>] = []
    private(set) var draining = false
    private var drainDeadline: UInt64?
    /// The `Date` field with its CRLF, as bytes; refreshed each second.
    private(set) var dateHeader: [UInt8] = []

    public init(loop: EventLoop, handler: HTTPHandler, limits: HTTPLimits = HTTPLimits()) {
        self.loop = loop
        self.handler = handler
        self.limits = limits
    }

    /// Binds `address` (`host:port`, `:port` for every interface, `[v6]:port`) and starts accepting.
    public func listen(on address: String) throws {
        try listen(on: ListeningSocket.open(address)[0])
    }

    /// Starts accepting on a socket that listens already (opened here, or inherited from the supervisor).
    public func listen(on socket: ListeningSocket) throws {
        uv_tcp_init(loop.raw, listener)
        listener.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let opened = uv_tcp_open(listener, socket.descriptor)
        guard opened == 0 else { throw HTTPServerError(description: "cannot use the listening socket: \(String(cString: uv_strerror(opened)))") }
        let stream = UnsafeMutableRawPointer(listener).assumingMemoryBound(to: uv_stream_t.self)
        let listening = uv_listen(stream, ListeningSocket.backlog) { server, status in
            guard status == 0 else { return }
            Unmanaged<HTTPServer>.fromOpaque(server!.pointee.data).takeUnretainedValue().accept()
        }
        guard listening == 0 else { throw HTTPServerError(description: "cannot listen: \(String(cString: uv_strerror(listening)))") }
        berth_ignore_sigpipe()
        refreshDate()
        sweeper = loop.repeating(every: 1000) { [unowned self] in self.sweep() }
        watchSignal(SIGINT)
        watchSignal(SIGTERM)
        watchSignal(SIGQUIT)
        watchSignal(SIGHUP)
    }

    public var openConnections: Int { connections.count }

    /// The port actually bound (useful with port 0).
    public var boundPort: Int {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(listener, $0, &length) }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    private func accept() {
        guard !draining else { return }
        let connection = HTTPConnection(server: self)
        let listenerStream = UnsafeMutableRawPointer(listener).assumingMemoryBound(to: uv_stream_t.self)
        guard uv_accept(listenerStream, connection.stream) == 0 else {
            connection.close()
            return
        }
        uv_tcp_nodelay(connection.tcp, 1)
        connections[ObjectIdentifier(connection)] = connection
        // Read at once: after a reset getpeername fails, and the log would have no address for the abort.
        connection.peer = PeerAddress(of: connection.tcp)
        if limits.maxConnectionsPerClient > 0, let client = connection.peer?.client {
            let open = connectionsByClient[client, default: 0]
            guard open < limits.maxConnectionsPerClient else {
                // Closed at once, before a byte is read: an answer would need the request read first, which
                // is what a client holding too many connections must not be given time for.
                refusedOverClientLimit += 1
                connection.close()
                return
            }
            connectionsByClient[client] = open + 1
            connection.client = client
        }
        if tlsContext != nil && connection.tls == nil {
            connection.close()
            return
        }
        connection.startReading()
    }

    func connectionClosed(_ connection: HTTPConnection) {
        connections[ObjectIdentifier(connection)] = nil
        if let client = connection.client {
            let open = connectionsByClient[client, default: 1] - 1
            connectionsByClient[client] = open > 0 ? open : nil
        }
        if draining && connections.isEmpty { finishDrain() }
    }

    private func sweep() {
        refreshDate()
        let now = loop.now
        if refusedOverClientLimit > 0 {
            Log.warn("refused \(refusedOverClientLimit) connection(s) from clients holding \(limits.maxConnectionsPerClient) already")
            refusedOverClientLimit = 0
        }
        if let drainDeadline, now > drainDeadline {
            Log.warn("shutdown: closing \(connections.count) connection(s) still busy after \(limits.drainTimeoutMilliseconds / 1000) s")
            for connection in Array(connections.values) { connection.forceClose() }
            return
        }
        for connection in Array(connections.values) { connection.checkDeadlines(now: now) }
    }

    private func refreshDate() {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        strftime(&buffer, buffer.count, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &parts)
        dateHeader = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    }

    private func watchSignal(_ number: Int32) {
        let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
        uv_signal_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_signal_start(handle, { handle, number in
            let server = Unmanaged<HTTPServer>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            if number == SIGHUP { server.onHangUp?() } else { server.shutdown(signal: number) }
        }, number)
        signalHandles.append(handle)
    }

    /// Stops accepting and lets in-flight requests finish; the loop ends when the last connection closes.
    /// After SIGTERM or SIGINT, connections still busy after the drain timeout are cut. After SIGQUIT (how the
    /// supervisor retires a worker on a reload, while new workers serve) a request may take as long as it
    /// keeps moving, so a reload cuts no long upload or download; each connection's own timeouts still apply,
    /// and a later SIGTERM sets the deadline.
    public func shutdown(signal: Int32 = SIGTERM) {
        if signal != SIGQUIT && drainDeadline == nil { drainDeadline = loop.now + limits.drainTimeoutMilliseconds }
        guard !draining else { return }
        draining = true
        Log.info("signal \(signal): no longer accepting; \(connections.count) connection(s) finishing")
        uv_close(UnsafeMutableRawPointer(listener).assumingMemoryBound(to: uv_handle_t.self), nil)
        for connection in Array(connections.values) { connection.drain() }
        if connections.isEmpty { finishDrain() }
    }

    private func finishDrain() {
        sweeper?.stop()
        sweeper = nil
        for handle in signalHandles {
            uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { raw in
                raw!.deallocate()
            }
        }
        signalHandles = []
        onDrained?()
    }
}
