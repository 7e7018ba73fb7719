@testable import BerthUpstream

/// What an egress proxy or its operator hands the mirror: the proxy's answer to CONNECT, `NO_PROXY` lists,
/// proxy URLs.
extension FuzzTarget {
    /// The first byte picks the reader and, for an answer, where it is split into two reads.
    static let egress = FuzzTarget(name: "egress") { bytes in
        guard let selector = bytes.first else { return }
        let rest = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[1...])
        switch selector % 3 {
        case 0:
            var answer = ProxyTunnelAnswer()
            let split = Int(selector) % (rest.count + 1)
            var outcome = answer.feed(UnsafeRawBufferPointer(rebasing: rest[..<split]))
            if outcome == .needMore { outcome = answer.feed(UnsafeRawBufferPointer(rebasing: rest[split...])) }
            switch outcome {
            case .needMore:
                require(rest.count <= ProxyTunnelAnswer.maxHeadBytes, "needs more after \(rest.count) bytes")
            case .established(let leftover):
                require(leftover.count < rest.count, "leftover \(leftover.count) of \(rest.count) bytes")
            case .refused(let status, _):
                require((100...599).contains(status) && !(200...299).contains(status), "refused with \(status)")
            case .malformed:
                break
            }
        case 1:
            let text = String(decoding: rest, as: UTF8.self)
            let lines = text.split(separator: "\n", maxSplits: 1).map(String.init)
            let list = NoProxyList(lines.first ?? "")
            let target = lines.count > 1 ? lines[1] : "registry.example.com"
            _ = list.matches(host: target, port: Int(rest.count))
            _ = list.matches(host: "[" + target + "]", port: 443)
        default:
            let text = String(decoding: rest, as: UTF8.self)
            if let endpoint = try? ProxyEndpoint(url: text) {
                require((1...65535).contains(endpoint.port), "port \(endpoint.port) from \(ProxyEndpoint.redacted(text))")
                require(!endpoint.host.isEmpty, "no host from \(ProxyEndpoint.redacted(text))")
            }
        }
    }
}
