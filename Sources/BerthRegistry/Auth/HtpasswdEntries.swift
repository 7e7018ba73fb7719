/// The users of an htpasswd file, read as registry:2 reads it (distribution `registry/auth/htpasswd/htpasswd.go`):
/// each line trimmed of white space; empty lines and lines that begin with `#` skipped; the user is what comes
/// before the first `:`, the hash all after it; a later line for the same user wins; a line without `:` makes
/// the whole file invalid. Only bcrypt hashes (`htpasswd -B`: `$2y$`, and `$2a$`/`$2b$`) ever match a password,
/// as in registry:2, whose bcrypt library fails every other hash (plain, MD5 `$apr1$`, SHA1 `{SHA}`, crypt).
public struct HtpasswdEntries: Equatable {
    /// User -> hash, bcrypt or not.
    public private(set) var hashes: [String: String] = [:]

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        /// 1-based, as registry:2 counts.
        public let line: Int
        public var description: String { "line \(line) is not user:hash" }
    }

    public init(hashes: [String: String] = [:]) {
        self.hashes = hashes
    }

    public init(parsing text: String) throws {
        var number = 0
        // Go's bufio.Scanner splits at \n and drops a \r before it; TrimSpace would drop it anyway.
        for raw in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let line = Self.trimmed(raw)
            guard let first = line.first, first != UInt8(ascii: "#") else { continue }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw Invalid(line: number) }
            hashes[String(decoding: line[..<colon], as: UTF8.self)] = String(decoding: line[(colon + 1)...], as: UTF8.self)
        }
    }

    /// The users whose hash no password can match (not bcrypt), for a warning when the file is read.
    public var usersWithoutBcrypt: [String] {
        hashes.filter { !Self.isBcrypt($0.value) }.keys.sorted()
    }

    /// `$2a$`, `$2b$` or `$2y$`, a two-digit cost, and the 53 characters of salt and hash.
    static func isBcrypt(_ hash: String) -> Bool {
        let bytes = Array(hash.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"), bytes[3] == UInt8(ascii: "$"),
              [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
              bytes[6] == UInt8(ascii: "$") else { return false }
        return bytes[4...5].allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// Go's strings.TrimSpace for ASCII (a non-ASCII space around a line is not something htpasswd writes).
    private static func trimmed<Line: Collection<UInt8>>(_ line: Line) -> ArraySlice<UInt8> {
        let bytes = Array(line)[...]
        let space: Set<UInt8> = [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]
        guard let start = bytes.firstIndex(where: { !space.contains($0) }),
              let end = bytes.lastIndex(where: { !space.contains($0) }) else { return [] }
        return bytes[start...end]
    }
}
