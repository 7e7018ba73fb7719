/// A repository name that matches the distribution spec's grammar, and so cannot escape the storage root:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255 characters.
public struct RepositoryName: Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ text: some StringProtocol) {
        var value = String(text)
        // Checked over the contiguous bytes: iterating a generic sequence from another module goes through
        // witness tables byte by byte (a measurable share of a manifest GET).
        guard !value.isEmpty, value.utf8.count <= 255, value.withUTF8({ RepositoryName.isValid($0) }) else { return nil }
        self.value = value
    }

    public var description: String { value }

    /// Components of alphanumeric runs joined by one separator (`.`, `_`, `__` or any run of `-`), joined
    /// by `/`; checked in one pass over the bytes.
    private static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var previousWasAlphanumeric = false
        var dots = 0, underscores = 0, dashes = 0  // the separator run in progress
        for byte in bytes {
            switch byte {
            case 0x61...0x7a, 0x30...0x39:
                if dots + underscores + dashes > 0 {
                    let valid = (dots == 1 && underscores + dashes == 0) || (underscores <= 2 && dots + dashes == 0)
                        || (dots + underscores == 0)
                    guard valid else { return false }
                    dots = 0
                    underscores = 0
                    dashes = 0
                }
                previousWasAlphanumeric = true
            case 0x2f:
                // A new component: the last one must have ended on an alphanumeric.
                guard previousWasAlphanumeric, dots + underscores + dashes == 0 else { return false }
                previousWasAlphanumeric = false
            case 0x2e, 0x5f, 0x2d:
                guard previousWasAlphanumeric || dots + underscores + dashes > 0 else { return false }
                if byte == 0x2e { dots += 1 } else if byte == 0x5f { underscores += 1 } else { dashes += 1 }
            default:
                return false
            }
        }
        return previousWasAlphanumeric && dots + underscores + dashes == 0
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` (OCI distribution spec).
public struct Tag: Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ text: some StringProtocol) {
        var value = String(text)
        let valid = value.withUTF8 { bytes in
            guard let first = bytes.first, bytes.count <= 128, Tag.isWord(first) else { return false }
            return bytes.dropFirst().allSatisfy { Tag.isWord($0) || $0 == 0x2e || $0 == 0x2d }
        }
        guard valid else { return nil }
        self.value = value
    }

    public var description: String { value }

    private static func isWord(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5f
    }
}
