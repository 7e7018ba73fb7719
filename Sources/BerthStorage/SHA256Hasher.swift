import CBerthShims

/// Incremental SHA-256 whose state can be saved and restored (registry:2's hashstate format),
/// so an upload's digest continues across requests, restarts and worker processes.
public struct SHA256Hasher {
    private var state = berth_sha256_state()

    public init() {
        berth_sha256_init(&state)
    }

    /// Restores a state saved by `exported` (or by registry:2); nil when the bytes are not one.
    public init?(exported bytes: [UInt8]) {
        let status = bytes.withUnsafeBufferPointer { berth_sha256_import(&state, $0.baseAddress, $0.count) }
        guard status == 0 else { return nil }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        berth_sha256_update(&state, base, bytes.count)
    }

    /// The digest of everything so far; the state stays usable.
    public var digest: Digest {
        var out = [UInt8](repeating: 0, count: 32)
        withUnsafePointer(to: state) { berth_sha256_peek($0, &out) }
        return Digest(sha256: out)
    }

    /// Bytes hashed so far.
    public var count: Int64 {
        withUnsafePointer(to: state) { Int64(berth_sha256_length($0)) }
    }

    /// The state in Go's crypto/sha256 binary form, as registry:2 writes it.
    public var exported: [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(BERTH_SHA256_GO_STATE_SIZE))
        withUnsafePointer(to: state) { berth_sha256_export($0, &out) }
        return out
    }
}
