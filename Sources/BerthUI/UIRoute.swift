import BerthStorage

/// The UI's pages, parsed from the path below `ui.path`. A repository name cannot hold a component `-`
/// (OCI dist-spec: components are `[a-z0-9]+` joined by separators), so `/-/` ends the name unambiguously:
/// `/r/team/app/-/manifest/v1` is the manifest `v1` of `team/app`.
enum UIRoute: Equatable {
    case repositories
    case overview
    case asset(String)
    case repository(RepositoryName)
    case manifest(RepositoryName, reference: String)
    /// GET: the confirmation page; POST: the delete itself.
    case delete(RepositoryName, reference: String)

    /// `rest` is the path after the prefix: "", "/", "/overview", "/static/berth.css", "/r/<name>", ...
    static func parse(_ rest: Substring) -> UIRoute? {
        switch rest {
        case "", "/": return .repositories
        case "/overview": return .overview
        default: break
        }
        if rest.hasPrefix("/static/") {
            let name = rest.dropFirst("/static/".count)
            return name.isEmpty || name.contains("/") ? nil : .asset(String(name))
        }
        guard rest.hasPrefix("/r/") else { return nil }
        let tail = rest.dropFirst(3)
        guard let separator = tail.range(of: "/-/") else {
            return RepositoryName(tail).map { .repository($0) }
        }
        guard let name = RepositoryName(tail[..<separator.lowerBound]) else { return nil }
        let action = tail[separator.upperBound...].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard action.count == 2, Self.isReference(action[1]) else { return nil }
        switch action[0] {
        case "manifest": return .manifest(name, reference: String(action[1]))
        case "delete": return .delete(name, reference: String(action[1]))
        default: return nil
        }
    }

    /// A tag or a digest as the API takes them; the API checks them again.
    private static func isReference(_ text: Substring) -> Bool {
        if text.contains(":") { return Digest(text) != nil }
        return Tag(text) != nil
    }
}

/// Paths of the UI's pages, the inverse of `UIRoute.parse`. Names, tags and digests need no escaping in a
/// path (their grammars exclude `/`, `?`, `#`, `%` and space); the templates HTML-escape them anyway.
struct UIPaths {
    let prefix: String

    var repositories: String { prefix + "/" }
    var overview: String { prefix + "/overview" }
    func asset(_ name: String) -> String { prefix + "/static/" + name }
    func repository(_ name: String) -> String { prefix + "/r/" + name }
    func manifest(_ name: String, _ reference: String) -> String { prefix + "/r/" + name + "/-/manifest/" + reference }
    func delete(_ name: String, _ reference: String) -> String { prefix + "/r/" + name + "/-/delete/" + reference }
}
