import Glibc

/// The two text operations HTTP fields need, on bytes and without allocating: names compare ignoring ASCII
/// case (RFC 9110 §5.1), values lose their optional whitespace (§5.6.3). One copy for every module.
/// Over the contiguous bytes where the strings have them (native and small strings always do): iterating two
/// `UTF8View`s in step costs several times as much, on every header lookup of every request.
public func asciiEqualIgnoringCase(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    let contiguous = a.utf8.withContiguousStorageIfAvailable { x in
        b.utf8.withContiguousStorageIfAvailable { y in
            for index in 0..<x.count where asciiLower(x[index]) != asciiLower(y[index]) { return false }
            return true
        }
    }
    if let contiguous, let equal = contiguous { return equal }
    for (p, q) in zip(a.utf8, b.utf8) where asciiLower(p) != asciiLower(q) { return false }
    return true
}

/// `asciiEqualIgnoringCase` for bytes of a head against a name or token.
func asciiEqualIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ text: String) -> Bool {
    var text = text
    guard bytes.count == text.utf8.count else { return false }
    return text.withUTF8 { other in
        for index in 0..<other.count where asciiLower(bytes[index]) != asciiLower(other[index]) { return false }
        return true
    }
}

/// The bytes without leading and trailing spaces and horizontal tabs.
func trimmingOWS(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
    guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
          let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return UnsafeBufferPointer(rebasing: bytes[0..<0]) }
    return UnsafeBufferPointer(rebasing: bytes[first...last])
}

@inline(__always) func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
}

extension Substring {
    /// Whether the bytes start with `prefix`'s bytes: `hasPrefix` compares Characters (grapheme by grapheme),
    /// about a microsecond for a path, where paths are compared as bytes.
    public func hasBytePrefix(_ prefix: String) -> Bool {
        guard utf8.count >= prefix.utf8.count else { return false }
        let contiguous = utf8.withContiguousStorageIfAvailable { bytes in
            prefix.utf8.withContiguousStorageIfAvailable { start in
                start.isEmpty || memcmp(bytes.baseAddress!, start.baseAddress!, start.count) == 0
            }
        }
        if let contiguous, let matches = contiguous { return matches }
        return utf8.starts(with: prefix.utf8)
    }

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
