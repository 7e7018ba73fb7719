/// A `WWW-Authenticate` challenge of the two kinds registries send (RFC 9110 §11.6.1; Docker's token
/// authentication specification for Bearer).
public enum AuthChallenge: Equatable {
    case bearer(realm: String, service: String?, scope: String?)
    case basic

    /// The challenge to answer among a 401's `WWW-Authenticate` fields: Bearer when offered, else Basic.
    public static func preferred(in fields: [String]) -> AuthChallenge? {
        let challenges = fields.flatMap(parse)
        return challenges.first { if case .bearer = $0 { return true } else { return false } }
            ?? challenges.first { $0 == .basic }
    }

    /// Every challenge in one field value (`Bearer realm="a",service="b", Basic realm="c"` holds two).
    static func parse(_ field: String) -> [AuthChallenge] {
        var scanner = ChallengeScanner(Array(field.utf8))
        var found: [(scheme: String, parameters: [String: String])] = []
        while let token = scanner.token() {
            if scanner.take(UInt8(ascii: "=")) {
                let value = scanner.value()
                if !found.isEmpty { found[found.count - 1].parameters[token.lowercased()] = value }
            } else {
                found.append((token.lowercased(), [:]))
            }
        }
        return found.compactMap { challenge in
            switch challenge.scheme {
            case "bearer":
                guard let realm = challenge.parameters["realm"], !realm.isEmpty else { return nil }
                return .bearer(realm: realm, service: challenge.parameters["service"], scope: challenge.parameters["scope"])
            case "basic":
                return .basic
            default:
                return nil
            }
        }
    }
}

/// Tokens, `=`, and quoted strings of an auth field, skipping the spaces and commas between them.
private struct ChallengeScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func skipSeparators() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == UInt8(ascii: ",") {
            index += 1
        }
    }

    /// Scheme and parameter names: anything up to a space, comma, `=` or quote (lenient on purpose).
    mutating func token() -> String? {
        skipSeparators()
        let start = index
        while index < bytes.count, !" \t,=\"".utf8.contains(bytes[index]) {
            index += 1
        }
        if index == start {
            // A stray `=` or quote starts nothing: step over it so scanning always ends.
            guard index < bytes.count else { return nil }
            index += 1
            return token()
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// Consumes `byte` after optional spaces, if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        var probe = index
        while probe < bytes.count, bytes[probe] == 0x20 { probe += 1 }
        guard probe < bytes.count, bytes[probe] == byte else { return false }
        index = probe + 1
        return true
    }

    /// A quoted string (RFC 9110 §5.6.4, backslash escapes) or a bare token up to the next comma.
    mutating func value() -> String {
        while index < bytes.count, bytes[index] == 0x20 { index += 1 }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != 0x20 { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        index += 1
        var value: [UInt8] = []
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count { index += 1 }
            value.append(bytes[index])
            index += 1
        }
        index += 1
        return String(decoding: value, as: UTF8.self)
    }
}
