/// The two text operations HTTP fields need, on bytes and without allocating: names compare ignoring ASCII
/// case (RFC 9110 §5.1), values lose their optional whitespace (§5.6.3). One copy for every module.
public func asciiEqualIgnoringCase(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) where asciiLower(p) != asciiLower(q) { return false }
    return true
}

@inline(__always) func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
}

extension Substring {
    /// Without leading and trailing spaces and horizontal tabs.
    public func trimmingOWS() -> Substring {
        let bytes = utf8
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
              let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return self[endIndex...] }
        return self[first..<bytes.index(after: last)]
    }
}

extension String {
    /// Without leading and trailing spaces and horizontal tabs.
    public func trimmingOWS() -> Substring { self[...].trimmingOWS() }
}
