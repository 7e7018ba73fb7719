import BerthHTTP
import CLibUV

/// Opening a connection through the egress proxy (`route.proxy`): the socket goes to the proxy, and for an
/// https upstream a `CONNECT host:port` opens a tunnel in which the TLS handshake with the upstream runs,
/// with the upstream's name for SNI and verification. A plain-http upstream needs no tunnel: its requests
/// go to the proxy in absolute form (`UpstreamRequest.serialized`). Failures before the tunnel is open are
/// the proxy's and name it, so that a refused CONNECT is not taken for the upstream's doing.
extension UpstreamConnection {
    /// Where the socket connects: the proxy, or the upstream itself.
    var dialHost: String { route.proxy?.host ?? origin.host }
    var dialPort: Int { route.proxy?.port ?? origin.port }

    /// A resolution or connect failure, said of the proxy when the socket was going to it.
    func openingError(_ error: UpstreamError) -> UpstreamError {
        guard let proxy = route.proxy else { return error }
        return .proxyUnreachable(proxy: proxy.description, reason: error.reason)
    }

    /// The connect timeout ran out: while reaching the proxy or waiting for its tunnel, the proxy's fault.
    var connectTimeoutError: UpstreamError {
        let milliseconds = machine.timeouts.connectMilliseconds
        let timeout = UpstreamError.timeout(.connect, host: origin.host, milliseconds: milliseconds)
        guard let proxy = route.proxy else { return timeout }
        switch machine.state {
        case .resolving, .connecting:
            return .proxyUnreachable(proxy: proxy.description, reason: "timed out connecting after \(milliseconds) ms")
        case .tunnelling:
            return .proxyUnreachable(proxy: proxy.description, reason: "no answer to CONNECT in \(milliseconds) ms")
        default:
            return timeout
        }
    }

    /// Connected to the proxy, for an https upstream: asks for the tunnel and reads the answer with a read
    /// callback of its own, so the response path (`didRead`) sees only the upstream's bytes.
    func openTunnel() {
        guard let transport, let proxy = route.proxy else { return }
        machine.tunnelling()
        transport.write(proxy.connectRequest(to: origin, userAgent: client.configuration.userAgent)) { _ in }
        transport.startReading { stream, count, _ in
            Unmanaged<UpstreamConnection>.fromOpaque(stream!.pointee.data).takeUnretainedValue().tunnelRead(count)
        }
    }

    private func tunnelRead(_ count: Int) {
        guard let proxy = route.proxy, machine.state == .tunnelling else { return }
        if count < 0 {
            let detail = count == Int(UV_EOF.rawValue) ? "" : " (\(uvErrorName(Int32(count))))"
            fail(.proxyFailed(proxy: proxy.description, reason: "it closed the connection before answering CONNECT\(detail)"))
            return
        }
        guard count > 0 else { return }
        switch machine.tunnelBytesArrived(client.loop.readBytes(count)) {
        case .wait, .ignore:
            break
        case .handshake(let leftover):
            transport?.stopReading()
            Log.debug("upstream \(origin): tunnel open through the egress proxy \(proxy)")
            startTLS(feeding: leftover)
        case .refused(let status, let reason):
            let error = UpstreamError.proxyRefused(proxy: proxy.description, upstream: "\(origin.host):\(origin.port)", status: status, reason: reason)
            fail(error)
        case .malformed(let reason):
            fail(.proxyFailed(proxy: proxy.description, reason: reason))
        }
    }
}
