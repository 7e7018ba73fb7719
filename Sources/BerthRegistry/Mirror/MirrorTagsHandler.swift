import BerthHTTP
import BerthUpstream
import BerthStorage

extension Registry {
    /// `GET /v2/<name>/tags/list` on a mirror: the upstream's list (with its paging), else the cached tags.
    func mirrorListTags(_ mirror: Mirror, _ name: RepositoryName, _ exchange: HTTPExchange) {
        let target: MirrorTarget
        do { target = try mirror.resolve(name, query: exchange.request.query) } catch { return exchange.fail(error) }
        // containerd's `ns=` chose the upstream; the rest (`n`, `last`) is the upstream's to answer.
        let query = exchange.request.query.split(separator: "&").filter { !$0.hasPrefix("ns=") }.joined(separator: "&")
        let path = "/v2/\(target.remote)/tags/list" + (query.isEmpty ? "" : "?" + query)
        target.upstream.registry.fetch("GET", path, handler: UpstreamBodyCollector(limit: 16 << 20) { [self] result in
            guard exchange.isOpen else { return }
            switch result {
            case .success(let response) where response.status == 200:
                var headers: [(name: String, value: String)] = [("Content-Type", "application/json; charset=utf-8")]
                if let link = response.headers["Link"] { headers.append(("Link", link)) }
                exchange.respond(HTTPResponse(status: 200, headers: headers, body: .bytes(response.body)))
            case .success(let response) where response.status == 404 && !store.repositoryExists(target.local):
                exchange.fail(RegistryError(.nameUnknown, "repository \(target.remote) unknown to the upstream"))
            default:
                listTags(target.local, exchange)
            }
        })
    }
}
