/// A repository name that matches the distribution spec's grammar, and so cannot escape the storage root:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255 characters.
public struct RepositoryName: Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.count <= 255 else { return nil }
        for component in String(text).split(separator: "/", omittingEmptySubsequences: false) {
            guard RepositoryName.isValidComponent(component.utf8) else { return nil }
        }
        value = String(text)
    }

    public var description: String { value }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39)
    }

    /// A component is alphanumeric runs joined by one separator: `.`, `_`, `__` or any run of `-`.
    private static func isValidComponent(_ bytes: Substring.UTF8View) -> Bool {
        var previousWasAlphanumeric = false
        var separator: [UInt8] = []
        for byte in bytes {
            if isAlphanumeric(byte) {
                if !separator.isEmpty {
                    let valid = separator == [0x2e] || separator == [0x5f] || separator == [0x5f, 0x5f]
                        || separator.allSatisfy { $0 == 0x2d }
                    guard valid else { return false }
                    separator.removeAll()
                }
                previousWasAlphanumeric = true
            } else if byte == 0x2e || byte == 0x5f || byte == 0x2d {
                guard previousWasAlphanumeric || !separator.isEmpty else { return false }
                separator.append(byte)
            } else {
                return false
            }
        }
        return previousWasAlphanumeric && separator.isEmpty
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` (OCI distribution spec).
public struct Tag: Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 128, Tag.isWord(first) else { return nil }
        guard bytes.dropFirst().allSatisfy({ Tag.isWord($0) || $0 == 0x2e || $0 == 0x2d }) else { return nil }
        value = String(text)
    }

    public var description: String { value }

    private static func isWord(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5f
    }
}
