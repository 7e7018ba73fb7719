import BerthHTTP
import BerthStorage

/// One access a request needs from a token: registry:2's `auth.Access` (a resource type and name, one action).
struct AccessRequirement: Equatable {
    let type: String
    let name: String
    let action: String

    /// registry:2's `appendAccessRecords`: GET/HEAD pull; POST/PUT/PATCH pull and push; DELETE delete.
    static func repository(_ name: String, _ method: HTTPMethod) -> [AccessRequirement] {
        switch method {
        case .get, .head: return [AccessRequirement(type: "repository", name: name, action: "pull")]
        case .post, .put, .patch:
            return [AccessRequirement(type: "repository", name: name, action: "pull"), AccessRequirement(type: "repository", name: name, action: "push")]
        case .delete: return [AccessRequirement(type: "repository", name: name, action: "delete")]
        case .options, .other: return []
        }
    }

    /// What a route needs (registry:2's `authorized`): its repository's records, pull on `from` for a cross-repository
    /// mount (registry:2 asks it whenever `from` is given), `registry:catalog:*` for `_catalog`, nothing but a valid
    /// token for `/v2/`.
    static func of(_ route: Route, method: HTTPMethod, query: Substring) -> [AccessRequirement] {
        let name: RepositoryName
        switch route {
        case .base: return []
        case .catalog: return [AccessRequirement(type: "registry", name: "catalog", action: "*")]
        case .tags(let repository), .manifest(let repository, _), .blob(let repository, _), .uploads(let repository),
             .upload(let repository, _), .referrers(let repository, _):
            name = repository
        }
        var needed = repository(name.value, method)
        if !query.isEmpty, let from = QueryParameters(query)["from"], !from.isEmpty {
            needed += repository(from, .get)
        }
        return needed
    }

    /// The repository when all a route needs is pull on it (`of` gives that one record): a GET or HEAD of a
    /// repository's route without a query (a query may carry a mount's `from`). A token gate that admitted that
    /// pull for a token before admits it again without building the records.
    static func pullOnly(_ route: Route, method: HTTPMethod, query: Substring) -> String? {
        guard method == .get || method == .head, query.isEmpty else { return nil }
        switch route {
        case .base, .catalog: return nil
        case .tags(let repository), .manifest(let repository, _), .blob(let repository, _), .uploads(let repository),
             .upload(let repository, _), .referrers(let repository, _):
            return repository.value
        }
    }

    /// The web UI shows every repository and deletes: to a token, that is the catalog's access (a browser cannot
    /// follow the Bearer flow, so with token authentication the UI serves clients that bring such a token).
    static let ofUI = [AccessRequirement(type: "registry", name: "catalog", action: "*")]

    /// Kraken's `/namespace/<namespace>/blobs/...`: the namespace (its first component, unescaped) is a repository
    /// of that name to a token: pull to read a blob, push (and pull) to upload one, whatever the rest of the path.
    /// A path without a namespace needs only a valid token; the handler answers it as without authentication.
    static func ofKraken(path: Substring, method: HTTPMethod) -> [AccessRequirement] {
        let parts = path.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[1] == "namespace", !parts[2].isEmpty else { return [] }
        return repository(percentDecode(parts[2]), method)
    }

    /// A challenge's `scope`: one `type:name:actions` per resource in the order first needed, actions sorted
    /// and joined by ',' (registry:2's `scopeParam`), resources joined by ' '.
    static func scope(_ needed: [AccessRequirement]) -> String {
        var resources: [(type: String, name: String, actions: [String])] = []
        for requirement in needed {
            if let index = resources.firstIndex(where: { $0.type == requirement.type && $0.name == requirement.name }) {
                if !resources[index].actions.contains(requirement.action) { resources[index].actions.append(requirement.action) }
            } else {
                resources.append((requirement.type, requirement.name, [requirement.action]))
            }
        }
        return resources.map { "\($0.type):\($0.name):\($0.actions.sorted().joined(separator: ","))" }.joined(separator: " ")
    }
}

/// What stands in front of the registry's routes when authentication is configured (`auth.htpasswd` or
/// `auth.token`): called after routing with the access the route needs, computed only if the gate asks.
protocol AccessGate: AnyObject {
    /// True: serve the request now. False: the gate has answered it (or runs it again later). `pulling`:
    /// `AccessRequirement.pullOnly` of the route, when the caller knows it.
    func admits(_ exchange: HTTPExchange, pulling: String?, needing access: () -> [AccessRequirement]) -> Bool
    /// SIGHUP: read what the gate reads from disk again.
    func reload()
}

extension HtpasswdGate: AccessGate {
    /// A user of the file may do everything, as in registry:2's htpasswd access controller.
    func admits(_ exchange: HTTPExchange, pulling: String?, needing access: () -> [AccessRequirement]) -> Bool {
        admits(exchange)
    }
}
