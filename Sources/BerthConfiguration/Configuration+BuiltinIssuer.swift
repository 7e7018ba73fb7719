import BerthRegistry
import Foundation
import Yams

/// `auth.builtin`, Berth's own key (registry:2 has none): the built-in token issuer. Users come from an htpasswd
/// file, tokens are signed with `key` (created if missing), and the access of each user, group or anonymous
/// request is given by `access`, a list of rules that only grant.
/// A key not given is nil (its default is `BuiltinIssuerOptions`'), so that any key given, even at its default value,
/// asks for the issuer: `auth: {builtin: {service: berth}}` alone is refused, never an open registry.
public struct BuiltinIssuerSettings: Equatable {
    public var htpasswd: String?
    public var key: String?
    public var service: String?
    public var issuer: String?
    /// The URL clients are sent to for a token; nil: the host they asked, at `BuiltinIssuerOptions.defaultPath`.
    public var realm: String?
    public var expiration: Double?
    public var refreshExpiration: Double?
    public var groups: [String: [String]] = [:]
    public var access: [AccessRule] = []

    public init() {}

    var isSet: Bool { self != BuiltinIssuerSettings() }
}

extension Configuration {
    static let builtinKeys: Set<String> = ["htpasswd", "key", "service", "issuer", "realm", "expiration", "refreshexpiration",
                                           "groups", "access"]

    /// What the registry runs with when `auth.builtin` is set (checked by `builtinProblem` when it was read).
    public var builtinIssuerOptions: BuiltinIssuerOptions? {
        guard let htpasswd = builtin.htpasswd, let key = builtin.key,
              let rules = try? AccessRules(rules: builtin.access, groups: builtin.groups.mapValues(Set.init)) else { return nil }
        var options = BuiltinIssuerOptions(htpasswdPath: htpasswd, keyPath: key, rules: rules)
        if let service = builtin.service { options.service = service }
        if let issuer = builtin.issuer { options.issuer = issuer }
        options.realm = builtin.realm
        if let realm = builtin.realm { options.path = Self.realmPath(realm) }
        if let expiration = builtin.expiration { options.expirationSeconds = Int64(expiration) }
        if let refresh = builtin.refreshExpiration { options.refreshExpirationSeconds = Int64(refresh) }
        return options
    }

    /// Why the `auth.builtin` keys given do not make an issuer, or nil.
    var builtinProblem: String? {
        guard builtin.isSet else { return nil }
        guard builtin.htpasswd != nil, builtin.key != nil else {
            return "auth.builtin.\(builtin.htpasswd == nil ? "htpasswd" : "key") is not set: the built-in token issuer needs "
                + "the users' htpasswd file and the path of its signing key"
        }
        if htpasswdPath != nil || htpasswdRealm != nil {
            return "auth.builtin and auth.htpasswd are both set: Berth authenticates with one scheme; the built-in issuer's "
                + "users are in auth.builtin.htpasswd"
        }
        if tokenKeysSet {
            return "auth.builtin and auth.token are both set: Berth authenticates with one scheme; the built-in issuer "
                + "is a token service of its own (registry:2's auth.token can verify its tokens elsewhere)"
        }
        do { _ = try AccessRules(rules: builtin.access, groups: builtin.groups.mapValues(Set.init)) } catch {
            return "auth.builtin.\(error)"
        }
        let expiration = builtin.expiration ?? Double(BuiltinIssuerOptions.defaultExpirationSeconds)
        if let refresh = builtin.refreshExpiration, refresh != 0, refresh < expiration {
            return "auth.builtin.refreshexpiration: shorter than auth.builtin.expiration (0 turns refresh tokens off)"
        }
        return nil
    }

    /// The path of the realm's URL, which Berth serves the endpoint on (`https://registry.example/auth/token`).
    static func realmPath(_ realm: String) -> String {
        guard let scheme = realm.range(of: "://") else { return realm }
        let rest = realm[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        let path = rest[slash...]
        return String(path.prefix { $0 != "?" && $0 != "#" })
    }

    static func realm(_ value: Any, _ key: String, _ origin: String) throws -> String? {
        let address = try url(value, key, origin)
        let path = realmPath(address)
        guard path.count > 1, !path.hasPrefix("/v2/"), !["/healthz", "/readyz", "/metrics"].contains(path) else {
            throw Invalid(description: "\(origin): \(key): \(address): Berth serves the token endpoint on this path, "
                          + "so it must be one of its own, such as /auth/token")
        }
        return address
    }

    static func optionalText(_ value: Any, _ key: String, _ origin: String) throws -> String? {
        try text(value, key, origin)
    }

    static func tokenLifetime(_ value: Any, _ key: String, _ origin: String) throws -> Double? {
        let seconds = try duration(value, key, origin)
        guard seconds >= 1, seconds <= 86_400 else { throw Invalid(description: "\(origin): \(key): \(value) is not from 1s to 24h") }
        return seconds.rounded()
    }

    static func refreshLifetime(_ value: Any, _ key: String, _ origin: String) throws -> Double? {
        try duration(value, key, origin).rounded()
    }

    /// A mapping of group name to its members: `{ci: [bot, builder]}`.
    static func groups(_ value: Any, _ key: String, _ origin: String) throws -> [String: [String]] {
        guard let mapping = try structured(value, key, origin) as? [String: Any] else {
            throw Invalid(description: "\(origin): \(key): expected a mapping of group name to a list of users")
        }
        return try mapping.mapValues { members in
            guard let list = members as? [Any] else { throw Invalid(description: "\(origin): \(key): expected a list of users for each group") }
            return try list.map { try text($0, key, origin) }
        }
    }

    /// A list of `{account | group | anonymous: true, type?, name, actions}`.
    static func accessRules(_ value: Any, _ key: String, _ origin: String) throws -> [AccessRule] {
        guard let list = try structured(value, key, origin) as? [Any] else {
            throw Invalid(description: "\(origin): \(key): expected a list of {account, name, actions} rules")
        }
        return try list.enumerated().map { index, entry in try accessRule(entry, key: "\(key)[\(index)]", origin: origin) }
    }

    private static func accessRule(_ entry: Any, key: String, origin: String) throws -> AccessRule {
        guard let fields = entry as? [String: Any] else { throw Invalid(description: "\(origin): \(key): expected {account, name, actions}") }
        let known: Set<String> = ["account", "group", "anonymous", "type", "name", "actions"]
        if let unknown = fields.keys.filter({ !known.contains($0) }).sorted().first {
            throw Invalid(description: "\(origin): \(key).\(unknown): not a field of a rule (account, group, anonymous, type, name, actions)")
        }
        let subjects = ["account", "group", "anonymous"].filter { fields[$0] != nil }
        guard subjects.count == 1 else {
            throw Invalid(description: "\(origin): \(key): a rule names exactly one of account, group or anonymous: true")
        }
        let subject: AccessRule.Subject
        switch subjects[0] {
        case "account": subject = .account(try text(fields["account"]!, key + ".account", origin))
        case "group": subject = .group(try text(fields["group"]!, key + ".group", origin))
        default:
            guard try flag(fields["anonymous"]!, key + ".anonymous", origin) else {
                throw Invalid(description: "\(origin): \(key).anonymous: only true means something (leave the rule out instead)")
            }
            subject = .anonymous
        }
        guard let nameValue = fields["name"] else { throw Invalid(description: "\(origin): \(key).name: missing (a repository pattern, * for all)") }
        let name: AccessPattern
        do { name = try AccessPattern(try text(nameValue, key + ".name", origin)) } catch let invalid as AccessPattern.Invalid {
            throw Invalid(description: "\(origin): \(key).name: \(invalid)")
        }
        guard let actionsValue = fields["actions"] else { throw Invalid(description: "\(origin): \(key).actions: missing (pull, push, delete or *)") }
        let actions = try (actionsValue as? [Any] ?? [actionsValue]).flatMap { item in
            try text(item, key + ".actions", origin).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let unknown = actions.first(where: { !AccessRule.actions.contains($0) }) {
            throw Invalid(description: "\(origin): \(key).actions: \(unknown) is not pull, push, delete or *")
        }
        let type = try fields["type"].map { try text($0, key + ".type", origin) } ?? "repository"
        guard AccessRule.types.contains(type) else { throw Invalid(description: "\(origin): \(key).type: \(type) is not repository or registry") }
        return AccessRule(subject: subject, type: type, name: name, actions: Set(actions))
    }

    /// A list or a mapping from the file, or from a variable's text read as YAML (`[{account: alice, ...}]`).
    private static func structured(_ value: Any, _ key: String, _ origin: String) throws -> Any? {
        guard let text = value as? String else { return value }
        do { return try Yams.load(yaml: text) } catch { throw Invalid(description: "\(origin): \(key): not valid YAML") }
    }
}

extension Configuration {
    /// At start, and before a reload's workers: provisions what authentication needs and is missing (an htpasswd
    /// file, as registry:2 does; the issuer's key), then reads it, so that a file that cannot be used stops Berth
    /// with one message rather than each worker. Returns what to tell the operator.
    public func prepareAuthentication() throws -> [String] {
        var notes: [String] = []
        let users = htpasswdPath.map { ($0, HtpasswdFile.defaultKey) } ?? builtin.htpasswd.map { ($0, "auth.builtin.htpasswd") }
        if let (path, key) = users, let password = try HtpasswdFile.prepare(path, key: key) {
            // As registry:2 does: the one place the operator can learn it. Change it with htpasswd -B.
            notes.append("htpasswd: \(path) was missing: created with the user docker, password \(password)")
        }
        if let path = builtin.key, try TokenKeyFile.prepare(path) {
            notes.append("auth.builtin.key: \(path) was missing: created with a new P-256 signing key")
        }
        return notes
    }
}
