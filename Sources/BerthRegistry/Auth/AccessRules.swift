import BerthJWT

/// One rule of `auth.builtin.access`: who (a user, every logged-in user, the members of a group, or anyone at
/// all), on what (a resource type and a name pattern), may do what (`pull`, `push`, `delete`, or `*`).
public struct AccessRule: Equatable {
    public enum Subject: Equatable {
        /// A user of the htpasswd file; `*` stands for every user who logged in.
        case account(String)
        case group(String)
        /// Anyone, with no credentials at all, and so every logged-in user too.
        case anonymous
    }

    public static let actions: Set<String> = ["pull", "push", "delete", "*"]
    /// `repository` for images; `registry` for `registry:catalog:*`, the scope of `GET /v2/_catalog`.
    public static let types: Set<String> = ["repository", "registry"]

    public var subject: Subject
    public var type: String
    public var name: AccessPattern
    public var actions: Set<String>

    public init(subject: Subject, type: String = "repository", name: AccessPattern, actions: Set<String>) {
        self.subject = subject
        self.type = type
        self.name = name
        self.actions = actions
    }
}

/// The rules of the built-in token issuer, and the groups they may name. Rules only grant, and order does not
/// matter: a request is granted, of the actions it asks for, those that any rule matching it names (the union),
/// and nothing that no rule names. So an anonymous rule also holds for every logged-in user (logging in never
/// takes access away), and a rule cannot deny what another grants. Pure: no I/O; checked when the
/// configuration is read.
public struct AccessRules: Equatable {
    public private(set) var rules: [AccessRule]
    /// Group name -> its members (user names of the htpasswd file).
    public private(set) var groups: [String: Set<String>]

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Throws when a rule names a group that is not defined, a type or an action that does not exist; the
    /// message says which rule (`access[2]`), for the configuration to prefix with its key.
    public init(rules: [AccessRule], groups: [String: Set<String>] = [:]) throws {
        for (index, rule) in rules.enumerated() {
            if case .group(let group) = rule.subject, groups[group] == nil {
                throw Invalid(description: "access[\(index)].group: \(group) is not one of the groups")
            }
            if case .account(let account) = rule.subject, account.isEmpty {
                throw Invalid(description: "access[\(index)].account: empty (a user's name, or * for every logged-in user)")
            }
            guard AccessRule.types.contains(rule.type) else {
                throw Invalid(description: "access[\(index)].type: \(rule.type) is not repository or registry")
            }
            if let unknown = rule.actions.subtracting(AccessRule.actions).sorted().first {
                throw Invalid(description: "access[\(index)].actions: \(unknown) is not pull, push, delete or *")
            }
        }
        self.rules = rules
        self.groups = groups
    }

    /// Of `requested` (in their order, each once), the actions some rule grants `account` (nil: anonymous) on
    /// `type:name`. A rule's `*` grants every action; a requested `*` (registry:2 asks `registry:catalog:*`) is
    /// granted only by a rule's `*`.
    public func granted(type: String, name: String, actions requested: [String], account: String?) -> [String] {
        var allowed: Set<String> = []
        for rule in rules where rule.type == type && applies(rule.subject, to: account) && rule.name.matches(name, account: account) {
            allowed.formUnion(rule.actions)
        }
        var granted: [String] = []
        for action in requested where !granted.contains(action) && (allowed.contains("*") || allowed.contains(action)) {
            granted.append(action)
        }
        return granted
    }

    /// The `access` claim for the scopes a client asked: each type and name once (in the order first asked, the
    /// actions of every scope that names it together), with the actions granted; one granted nothing is left out.
    public func grant(_ requested: [TokenAccess], account: String?) -> [TokenAccess] {
        var merged: [TokenAccess] = []
        for scope in requested {
            if let index = merged.firstIndex(where: { $0.type == scope.type && $0.name == scope.name }) {
                merged[index].actions += scope.actions
            } else {
                merged.append(scope)
            }
        }
        return merged.compactMap { scope in
            let actions = granted(type: scope.type, name: scope.name, actions: scope.actions, account: account)
            return actions.isEmpty ? nil : TokenAccess(type: scope.type, name: scope.name, actions: actions)
        }
    }

    private func applies(_ subject: AccessRule.Subject, to account: String?) -> Bool {
        switch subject {
        case .anonymous: return true
        case .account(let name): return account.map { name == "*" || name == $0 } ?? false
        case .group(let group): return account.map { groups[group]?.contains($0) ?? false } ?? false
        }
    }
}
