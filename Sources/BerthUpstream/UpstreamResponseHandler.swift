import BerthHTTP

/// Receives one upstream response as it streams in, on the loop thread.
///
/// The order is `head`, any number of `body` calls, then `end` exactly once. `end` may come without
/// `head` (the upstream could not be reached, or no complete head arrived). After `end`, no other call.
public protocol UpstreamResponseHandler: AnyObject {
    /// The final response's status and headers (interim 1xx answers are skipped). `exchange` is the
    /// handle to pause, resume or cancel the body.
    func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange)
    /// Body bytes, decoded from chunked if need be; valid only during the call. After `exchange.pause()`
    /// no further call comes until `resume()`, not even for bytes already read.
    func body(_ bytes: UnsafeRawBufferPointer)
    /// The body is complete (`nil`), or the exchange failed or was cancelled.
    func end(error: UpstreamError?)
    /// Free memory of the handler's where the next body bytes may be read or decrypted to, so they reach it
    /// without a copy: the `body` call for them then points into it (at its start, unless framing such as
    /// chunk sizes came first). nil: the connection's own buffer, and `body` points there.
    func bodyDestination() -> UnsafeMutableRawBufferPointer?
}

extension UpstreamResponseHandler {
    public func bodyDestination() -> UnsafeMutableRawBufferPointer? { nil }
}

/// Response header fields in the order received; lookups ignore the case of names.
public struct UpstreamHeaders: Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// The first value of the field `name`, or nil.
    public subscript(name: String) -> String? {
        fields.first { asciiEqualIgnoringCase($0.name, name) }?.value
    }

    /// Every value of the field `name` (`WWW-Authenticate` may come several times).
    public func values(_ name: String) -> [String] {
        fields.filter { asciiEqualIgnoringCase($0.name, name) }.map(\.value)
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}
