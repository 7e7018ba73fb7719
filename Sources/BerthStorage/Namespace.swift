/// A Kraken namespace: any non-empty text (slashes included) whose escaped directory name fits in one path
/// component, without control characters or U+FFFD (what bytes that are not UTF-8 decode to: two such
/// namespaces would share one directory).
public struct Namespace: Hashable, CustomStringConvertible {
    public let value: String

    /// NAME_MAX of Linux file systems: a longer directory name fails with ENAMETOOLONG, after the blob it
    /// would link is already stored.
    static let maxDirectoryNameBytes = 255

    public init?(_ text: String) {
        var length = 0
        for scalar in text.unicodeScalars {
            guard scalar.value >= 0x20, scalar.value != 0x7f, scalar != "\u{FFFD}" else { return nil }
            UTF8.encode(scalar) { byte in length += Self.isKeptAsIs(byte) ? 1 : 3 }
            guard length <= Self.maxDirectoryNameBytes else { return nil }
        }
        guard length > 0 else { return nil }
        value = text
    }

    /// The namespace whose `directoryName` this is (a directory listing of `kraken/namespaces`).
    init?(directoryName: String) {
        var bytes: [UInt8] = []
        var rest = Substring(directoryName).utf8[...]
        while let byte = rest.popFirst() {
            guard byte == 0x25 else { bytes.append(byte); continue }
            guard rest.count >= 2, let decoded = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(decoded)
            rest = rest.dropFirst(2)
        }
        guard let namespace = Namespace(String(decoding: bytes, as: UTF8.self)), namespace.directoryName == directoryName else { return nil }
        self = namespace
    }

    public var description: String { value }

    /// Every byte outside `[A-Za-z0-9_-]` as `%XX`: one path component, never `.` or `..`.
    var directoryName: String {
        var out = ""
        for byte in value.utf8 {
            if Self.isKeptAsIs(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded()
            }
        }
        return out
    }

    private static func isKeptAsIs(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a, 0x5f, 0x2d: return true
        default: return false
        }
    }
}

private extension String {
    func leftPadded() -> String { count == 1 ? "0" + self : self }
}
