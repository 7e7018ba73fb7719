/// Who opens a page of the web UI, and what the pages may show and do for them. Unrestricted without
/// authentication, for a user of `auth.htpasswd` (who may do everything, as on `/v2/`) and for a Bearer token
/// that grants `registry:catalog:*`; with `auth.builtin`'s Basic login, the issuer's access rules decide.
public struct UIViewer {
    /// The user who logged in (auth.builtin's Basic login); nil otherwise.
    public let user: String?
    let rules: AccessRules?

    static let unrestricted = UIViewer(user: nil, rules: nil)

    /// The repositories list (and every page): the catalog's access, as the rules grant it to a token.
    public var mayList: Bool {
        rules.map { !$0.granted(type: "registry", name: "catalog", actions: ["*"], account: user).isEmpty } ?? true
    }

    /// A delete of a tag or a manifest of `repository`: what `DELETE /v2/<repository>/manifests/...` needs.
    public func mayDelete(in repository: String) -> Bool {
        rules.map { !$0.granted(type: "repository", name: repository, actions: ["delete"], account: user).isEmpty } ?? true
    }
}
