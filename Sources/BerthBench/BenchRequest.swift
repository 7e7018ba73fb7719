import CBerthShims

/// A request ready for the wire: its head bytes, a body in memory that lives as long as the run, and what
/// makes its answer right. Scenarios build the fixed ones once, before the load, so issuing one costs a copy.
public struct BenchRequest {
    public var head: [UInt8]
    /// Not owned: synthetic content kept by the scenario for the whole run.
    public var body: UnsafeRawBufferPointer
    public var isHead: Bool
    /// Statuses that count as success; any other is an error counted by status.
    public var expected: ClosedRange<Int>
    /// With `--verify`: the SHA-256 the body must hash to.
    public var expectedDigest: SHA256Value?
    /// The next step needs the `Location` header (an upload's URL).
    public var wantsLocation: Bool
    /// Which token it carries under the Bearer flow.
    public var authSlot: AuthSlot
    /// mirror-cold: read the clock at the first body byte (`BenchResponse.firstByteAt`).
    public var timesFirstByte = false
    /// Keep the body (`BenchResponse.kept`): a small document the harness reads, such as `/metrics`.
    public var keepsBody = false

    /// `authSlot` nil: pull for GET and HEAD, push for the rest.
    public init(head: [UInt8], body: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), isHead: Bool = false,
                expected: ClosedRange<Int> = 200...299, expectedDigest: SHA256Value? = nil, wantsLocation: Bool = false,
                authSlot: AuthSlot? = nil) {
        self.authSlot = authSlot ?? (head.first == UInt8(ascii: "G") || head.first == UInt8(ascii: "H") ? .pull : .push)
        self.head = head
        self.body = body
        self.isHead = isHead
        self.expected = expected
        self.expectedDigest = expectedDigest
        self.wantsLocation = wantsLocation
    }
}

/// What the harness needs of a response: no header map, only what a scenario's next step reads.
public struct BenchResponse {
    public var status = 0
    public var bodyBytes = 0
    /// Only when the request asked for it.
    public var location: String?
    /// Only with an expected digest: whether the body hashed to it.
    public var digestMatched: Bool?
    /// A 401's `WWW-Authenticate`, when the run answers challenges.
    public var challenge: String?
    /// uv_hrtime of the first body byte (or of the head, for an empty body), when the request asked.
    public var firstByteAt: UInt64 = 0
    /// The body, when the request asked to keep it.
    public var kept: [UInt8] = []
    public init() {}
}

/// The kinds of access a scenario's requests need, each answered by one token (the scope a registry
/// names differs between them: `repository:r:pull`, `repository:r:pull,push`, `registry:catalog:*`).
public enum AuthSlot: Int, CaseIterable {
    case pull, push, catalog
}

/// A SHA-256 as four words: compared without an allocation.
public struct SHA256Value: Equatable {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32)
        withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: bytes) }
    }

    init() {}

    public static func == (a: SHA256Value, b: SHA256Value) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public static func of(_ bytes: [UInt8]) -> SHA256Value {
        var state = berth_sha256_state()
        berth_sha256_init(&state)
        bytes.withUnsafeBytes { berth_sha256_update(&state, $0.baseAddress, $0.count) }
        return finish(&state)
    }

    static func finish(_ state: inout berth_sha256_state) -> SHA256Value {
        var value = SHA256Value()
        withUnsafeMutableBytes(of: &value.words) { out in
            berth_sha256_peek(&state, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return value
    }
}
