/// The claim set of a registry token (docker's token spec, jwt.md), with the zero values registry:2's Go
/// struct gives a claim that is missing.
public struct TokenClaims: Equatable, Sendable {
    public var issuer: String
    public var subject: String
    public var audience: [String]
    /// Seconds since 1970.
    public var expiresAt: Int64
    public var notBefore: Int64
    public var issuedAt: Int64
    /// `jti`
    public var id: String
    public var access: [TokenAccess]

    public init(issuer: String, subject: String, audience: [String], expiresAt: Int64, notBefore: Int64, issuedAt: Int64,
                id: String, access: [TokenAccess]) {
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.expiresAt = expiresAt
        self.notBefore = notBefore
        self.issuedAt = issuedAt
        self.id = id
        self.access = access
    }

    /// At most this many `access` entries and actions in each: a token from a sane issuer holds a handful.
    static let maxAccessEntries = 256
    static let maxActions = 16

    /// nil when a claim has the wrong JSON type (registry:2's decoder refuses the token too).
    init?(json: JOSEJSON) {
        guard case .object = json else { return nil }
        func text(_ key: String) -> String?? {
            guard let value = json[key], value != .null else { return .some(nil) }
            return value.string.map { .some($0) } ?? nil
        }
        func number(_ key: String) -> Int64?? {
            guard let value = json[key], value != .null else { return .some(nil) }
            return value.int64.map { .some($0) } ?? nil
        }
        guard let issuer = text("iss"), let subject = text("sub"), let id = text("jti"),
              let expiresAt = number("exp"), let notBefore = number("nbf"), let issuedAt = number("iat") else { return nil }
        var audience: [String] = []
        switch json["aud"] {
        case nil, .null?: break
        case .string(let one)?: audience = [one]
        case .array(let many)?:
            guard many.count <= Self.maxAccessEntries else { return nil }
            for element in many {
                guard let one = element.string else { return nil }
                audience.append(one)
            }
        default: return nil
        }
        var access: [TokenAccess] = []
        switch json["access"] {
        case nil, .null?: break
        case .array(let entries)?:
            guard entries.count <= Self.maxAccessEntries else { return nil }
            for entry in entries {
                guard case .object = entry, let type = Self.text(entry, "type"), let name = Self.text(entry, "name") else { return nil }
                var actions: [String] = []
                switch entry["actions"] {
                case nil, .null?: break
                case .array(let list)?:
                    guard list.count <= Self.maxActions else { return nil }
                    for action in list {
                        guard let one = action.string else { return nil }
                        actions.append(one)
                    }
                default: return nil
                }
                access.append(TokenAccess(type: type, name: name, actions: actions))
            }
        default: return nil
        }
        self.init(issuer: issuer ?? "", subject: subject ?? "", audience: audience, expiresAt: expiresAt ?? 0,
                  notBefore: notBefore ?? 0, issuedAt: issuedAt ?? 0, id: id ?? "", access: access)
    }

    /// A string member, "" when it is missing or null, nil when it is something else.
    private static func text(_ object: JOSEJSON, _ key: String) -> String? {
        guard let value = object[key], value != .null else { return "" }
        return value.string
    }

    var json: JOSEJSON {
        let access = self.access.map { entry -> JOSEJSON in
            .object([("type", .string(entry.type)), ("name", .string(entry.name)), ("actions", .array(entry.actions.map { .string($0) }))])
        }
        return .object([
            ("iss", .string(issuer)), ("sub", .string(subject)),
            ("aud", audience.count == 1 ? .string(audience[0]) : .array(audience.map { .string($0) })),
            ("exp", .number(String(expiresAt))), ("nbf", .number(String(notBefore))), ("iat", .number(String(issuedAt))),
            ("jti", .string(id)), ("access", .array(access)),
        ])
    }
}
