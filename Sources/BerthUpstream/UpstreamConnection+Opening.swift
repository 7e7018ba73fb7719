import BerthHTTP
import CLibUV
import Glibc

/// Opening a connection: resolve the host (the upstream's, or the egress proxy's), try its addresses in
/// order, for https through a proxy open the tunnel (UpstreamConnection+Tunnel), for https complete the
/// TLS handshake, then send the first exchange's request.
extension UpstreamConnection {
    /// Resolves, connects and (for https) completes the handshake, then sends `exchange`'s request.
    func open(for exchange: UpstreamExchange) {
        self.exchange = exchange
        exchange.connection = self
        arm(machine.timeouts.connectMilliseconds)
        resolve()
    }

    private func resolve() {
        machine.resolving()
        let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        // No AI_ADDRCONFIG: glibc does not count loopback, so a loopback-only host would resolve nothing.
        hints.ai_flags = AI_NUMERICSERV
        let status = uv_getaddrinfo(client.loop.raw, request, { request, status, result in
            let connection = Unmanaged<UpstreamConnection>.fromOpaque(request!.pointee.data).takeRetainedValue()
            request!.deallocate()
            connection.resolved(status: status, result)
            if let result { uv_freeaddrinfo(result) }
        }, dialHost, String(dialPort), &hints)
        if status != 0 {
            Unmanaged<UpstreamConnection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            fail(openingError(.dnsFailure(host: dialHost, reason: uvErrorName(status))))
        }
    }

    private func resolved(status: Int32, _ result: UnsafeMutablePointer<addrinfo>?) {
        guard machine.state == .resolving else { return }
        guard status == 0 else {
            fail(openingError(.dnsFailure(host: dialHost, reason: uvErrorName(status))))
            return
        }
        var entry = result
        while let info = entry {
            if let address = info.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(info.pointee.ai_addrlen))) }
                addresses.append(storage)
            }
            entry = info.pointee.ai_next
        }
        connectNext()
    }

    /// Tries the resolved addresses in order: `localhost` may name ::1 where only 127.0.0.1 listens.
    private func connectNext() {
        guard !addresses.isEmpty else {
            fail(openingError(connectError ?? .dnsFailure(host: dialHost, reason: "no address")))
            return
        }
        machine.connecting()
        var address = addresses.removeFirst()
        let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(client.loop.raw, tcp)
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()
        self.tcp = tcp
        uv_tcp_nodelay(tcp, 1)
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                uv_tcp_connect(request, tcp, address) { request, status in
                    let connection = Unmanaged<UpstreamConnection>.fromOpaque(request!.pointee.data).takeRetainedValue()
                    let stream = request!.pointee.handle
                    request!.deallocate()
                    connection.connected(status: status, stream: stream)
                }
            }
        }
        if status != 0 {
            Unmanaged<UpstreamConnection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            connectFailed(status)
        }
    }

    private func connected(status: Int32, stream: UnsafeMutablePointer<uv_stream_t>?) {
        guard machine.state == .connecting, let transport, stream == transport.stream else { return }
        guard status == 0 else {
            connectFailed(status)
            return
        }
        guard origin.isTLS else {
            ready()
            return
        }
        if route.proxy != nil {
            openTunnel()
        } else {
            startTLS(feeding: [])
        }
    }

    /// Begins the TLS handshake with the upstream, on the socket or inside the proxy's tunnel; `leftover`
    /// is what the proxy sent past its answer to CONNECT.
    func startTLS(feeding leftover: [UInt8]) {
        do {
            tls = try TLSSession(context: client.tlsContext, host: origin.host)
        } catch {
            fail(error as? UpstreamError ?? .tlsHandshakeFailed(host: origin.host, reason: "\(error)"))
            return
        }
        plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 * 1024, alignment: 16)
        machine.handshaking()
        startReading()
        guard let tls, !leftover.isEmpty else { return continueHandshake() }
        // The proxy's leftover is lent only while this runs: what the handshake does not take now is kept.
        let kept = leftover.withUnsafeBytes { bytes -> Bool in
            tls.lend(bytes)
            continueHandshake()
            return tls.keepUnread()
        }
        if !kept { fail(.tlsHandshakeFailed(host: origin.host, reason: "no memory left for its TLS records")) }
    }

    private func connectFailed(_ status: Int32) {
        connectError = status == Int32(UV_ECONNREFUSED.rawValue)
            ? .connectionRefused(host: dialHost, port: dialPort)
            : .connectFailed(host: dialHost, port: dialPort, reason: uvErrorName(status))
        closeSocket()
        connectNext()
    }

    func continueHandshake() {
        guard let tls else { return }
        let step = tls.handshake()
        flushTLS()
        switch step {
        case .done: ready()
        case .wantMore: break
        case .failed(let error): fail(error)
        }
    }

    private func ready() {
        guard let exchange else {
            close()
            return
        }
        begin(exchange)
        if tls != nil { pumpTLS() }
    }
}
