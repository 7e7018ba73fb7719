/// The egress proxy's answer to a CONNECT, read up to the end of its head (RFC 9110 §9.3.6: any 2xx
/// opens the tunnel, and the bytes after the head are the upstream's). Pure: fed bytes, tells what came.
struct ProxyTunnelAnswer {
    enum Outcome: Equatable {
        case needMore
        /// The tunnel is open; `leftover` came after the head and belongs to the TLS session.
        case established(leftover: [UInt8])
        /// The proxy answered with this status and reason phrase instead (407: credentials, 403: refused by
        /// its rules, 502/503/504: it could not reach the upstream).
        case refused(status: Int, reason: String)
        case malformed(String)
    }

    /// A proxy's head is a few hundred bytes; more without its end is not an HTTP answer.
    static let maxHeadBytes = 16 * 1024

    private var head: [UInt8] = []

    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let searchFrom = max(0, head.count - 3)
        head.append(contentsOf: bytes)
        guard let end = Self.endOfHead(in: head, from: searchFrom) else {
            return head.count > Self.maxHeadBytes ? .malformed("its answer to CONNECT has no end of head in \(Self.maxHeadBytes) bytes") : .needMore
        }
        let leftover = Array(head[end...])
        let statusLine = head[..<(head.firstIndex(of: 0x0D) ?? end)]
        let parts = statusLine.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].starts(with: Array("HTTP/1.".utf8)), parts[1].count == 3,
              let status = Int(String(decoding: parts[1], as: UTF8.self)), (100...599).contains(status) else {
            return .malformed("its answer to CONNECT is not HTTP: \(String(decoding: statusLine.prefix(80), as: UTF8.self))")
        }
        if (200...299).contains(status) { return .established(leftover: leftover) }
        let reason = parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : ""
        return .refused(status: status, reason: reason)
    }

    /// The index just past the first CRLF CRLF at or after `start`.
    private static func endOfHead(in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + 3 < bytes.count {
            if bytes[index] == 0x0D, bytes[index + 1] == 0x0A, bytes[index + 2] == 0x0D, bytes[index + 3] == 0x0A { return index + 4 }
            index += 1
        }
        return nil
    }
}
