/// The `name` of a rule of `auth.builtin.access`: a repository name (or, for the `registry` type, `catalog`) in
/// which `*` stands for any run of characters, `/` included (`team/*` covers `team/app` and `team/a/b`; a lone
/// `*` covers every name), `?` for one character, and `${account}` for the name of the user who logged in
/// (`${account}/*`: each user's own namespace; it never matches an anonymous request). Every other character
/// matches itself, and must be one a repository name may hold (lower-case letters, digits, `.`, `_`, `-`, `/`),
/// so that a misspelt pattern stops the start instead of silently matching nothing.
public struct AccessPattern: Equatable, CustomStringConvertible {
    enum Element: Equatable {
        case byte(UInt8)
        case one
        case any
        case account
    }

    public let description: String
    let elements: [Element]

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    static let accountVariable = Array("${account}".utf8)

    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw Invalid(description: "an empty pattern matches no name") }
        var elements: [Element] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$") {
                guard bytes[index...].starts(with: Self.accountVariable) else {
                    throw Invalid(description: "\(text): the only variable is ${account}")
                }
                elements.append(.account)
                index += Self.accountVariable.count
                continue
            }
            switch byte {
            case UInt8(ascii: "*"): if elements.last != .any { elements.append(.any) }
            case UInt8(ascii: "?"): elements.append(.one)
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "/"):
                elements.append(.byte(byte))
            default:
                throw Invalid(description: "\(text): \(String(decoding: [byte], as: UTF8.self)) cannot be in a repository name "
                              + "(lower-case letters, digits, . _ - /; * and ? as wildcards; ${account})")
            }
            index += 1
        }
        description = text
        self.elements = elements
    }

    /// Whether `name` matches, `${account}` standing for `account` (nil: an anonymous request).
    public func matches(_ name: String, account: String?) -> Bool {
        var pattern: [Element] = []
        pattern.reserveCapacity(elements.count)
        for element in elements {
            guard element == .account else {
                pattern.append(element)
                continue
            }
            guard let account, !account.isEmpty else { return false }
            // The user's name stands for itself: a `*` in it is no wildcard.
            pattern.append(contentsOf: account.utf8.map(Element.byte))
        }
        return Self.matches(pattern, Array(name.utf8))
    }

    /// Glob matching with backtracking to the last `*` only, which is enough when `*` is the one element that
    /// matches a run: linear in practice, quadratic at worst, on names of at most a few hundred bytes.
    private static func matches(_ pattern: [Element], _ name: [UInt8]) -> Bool {
        var p = 0
        var n = 0
        var star: (pattern: Int, name: Int)?
        while n < name.count {
            if p < pattern.count {
                switch pattern[p] {
                case .any:
                    star = (p, n)
                    p += 1
                    continue
                case .one:
                    p += 1
                    n += 1
                    continue
                case .byte(let byte) where byte == name[n]:
                    p += 1
                    n += 1
                    continue
                default:
                    break
                }
            }
            guard let last = star else { return false }
            p = last.pattern + 1
            n = last.name + 1
            star = (last.pattern, last.name + 1)
        }
        while p < pattern.count, pattern[p] == .any { p += 1 }
        return p == pattern.count
    }
}
