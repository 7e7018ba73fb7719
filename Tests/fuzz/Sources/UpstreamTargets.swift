@testable import BerthUpstream

/// Targets for what an upstream registry sends the mirror: responses and authentication challenges.
extension FuzzTarget {
    /// Response bytes, split at a point taken from the input: parsed, paused and resumed, or refused.
    static let upstreamResponse = FuzzTarget(name: "upstream-response") { bytes in
        guard let url = UpstreamURL("http://upstream.invalid/v2/") else { return }
        let sink = ResponseSink()
        let exchange = UpstreamExchange(request: UpstreamRequest(url: url), handler: sink)
        let parser = ResponseParser()
        parser.reset(requestWasHead: bytes.first.map { $0 & 1 == 1 } ?? false)
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        let raw = UnsafeRawBufferPointer(bytes)
        for part in [raw[..<split], raw[split...]] {
            var rest = UnsafeRawBufferPointer(rebasing: part)
            while !rest.isEmpty {
                guard case .paused(let consumed) = parser.parse(rest, for: exchange) else { break }
                require(consumed <= rest.count, "consumed \(consumed) of \(rest.count)")
                parser.unpause()
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
            }
        }
        _ = parser.finish(for: exchange)
    }

    /// `WWW-Authenticate` fields from an upstream: any number of challenges and parameters.
    static let authChallenge = FuzzTarget(name: "auth-challenge") { bytes in
        let fields = bytes.text.split(separator: "\n").map(String.init)
        _ = AuthChallenge.preferred(in: fields)
    }
}

/// Takes what the parser delivers. The exchange has no connection, so it stays before its head: the
/// target exercises the parser and its callbacks' bookkeeping of fields, values and interim answers.
private final class ResponseSink: UpstreamResponseHandler {
    func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        require((100...999).contains(status), "status \(status)")
    }

    func body(_ bytes: UnsafeRawBufferPointer) {}

    func end(error: UpstreamError?) {}
}
