/// One entry of a token's `access` claim and of a challenge's `scope`: `repository:library/ubuntu:pull,push`
/// (docker's token spec, scope.md).
public struct TokenAccess: Hashable, Sendable {
    public var type: String
    public var name: String
    public var actions: [String]

    public init(type: String, name: String, actions: [String]) {
        self.type = type
        self.name = name
        self.actions = actions
    }

    /// scope.md: the name may hold colons (a registry host with a port), so the type ends at the first colon
    /// and the actions start after the last. Empty actions (`a,,b`) are dropped; at most 1024 bytes.
    public init?(scope: String) {
        let bytes = scope.utf8
        guard bytes.count <= 1024, let first = bytes.firstIndex(of: UInt8(ascii: ":")),
              let last = bytes.lastIndex(of: UInt8(ascii: ":")), first < last else { return nil }
        let type = String(scope[..<first])
        let name = String(scope[scope.index(after: first)..<last])
        guard !type.isEmpty, !name.isEmpty, !type.contains(" "), !name.contains(" ") else { return nil }
        self.init(type: type, name: name,
                  actions: scope[scope.index(after: last)...].split(separator: ",").map(String.init))
    }

    public var scope: String { "\(type):\(name):\(actions.joined(separator: ","))" }

    /// True when this entry grants `action` on `type`/`name`; `*` grants every action.
    public func grants(type: String, name: String, action: String) -> Bool {
        self.type == type && self.name == name && actions.contains { $0 == action || $0 == "*" }
    }
}
