import BerthHTTP
import BerthStorage

/// `n` and `last` pagination with an RFC 5988 `Link` header (OCI dist-spec "Listing Tags", distribution catalog).
struct Page {
    let items: ArraySlice<String>
    let link: String?

    init(sorted all: [String], query: QueryParameters, path: Substring) throws {
        var start = all.startIndex
        if let last = query["last"], !last.isEmpty {
            start = all.firstIndex { $0 > last } ?? all.endIndex
        }
        guard let text = query["n"] else {
            items = all[start...]
            link = nil
            return
        }
        guard let limit = Int(text), limit >= 0 else {
            throw RegistryError(.unsupported, "n must be a non-negative integer", message: "invalid pagination", status: 400)
        }
        let end = all.index(start, offsetBy: limit, limitedBy: all.endIndex) ?? all.endIndex
        items = all[start..<end]
        if end < all.endIndex, let lastItem = items.last {
            link = "<\(path)?n=\(limit)&last=\(lastItem)>; rel=\"next\""
        } else {
            link = nil
        }
    }

    var headers: [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json; charset=utf-8")]
        if let link { headers.append(("Link", link)) }
        return headers
    }
}

extension Registry {
    func listTags(_ name: RepositoryName, _ exchange: HTTPExchange) {
        guard let tags = store.tags(in: name) else {
            exchange.fail(RegistryError(.nameUnknown, "repository \(name) not known"))
            return
        }
        do {
            let page = try Page(sorted: tags, query: QueryParameters(exchange.request.query), path: exchange.request.path)
            let body = "{\"name\":\(JSON.quote(name.value)),\"tags\":\(JSON.stringArray(Array(page.items)))}\n"
            exchange.respond(HTTPResponse(status: 200, headers: page.headers, text: body))
        } catch {
            exchange.fail(error)
        }
    }

    func listRepositories(_ exchange: HTTPExchange) {
        onPool(exchange, { [store] in store.repositories() }) { repositories in
            do {
                let page = try Page(sorted: repositories, query: QueryParameters(exchange.request.query), path: exchange.request.path)
                let body = "{\"repositories\":\(JSON.stringArray(Array(page.items)))}\n"
                exchange.respond(HTTPResponse(status: 200, headers: page.headers, text: body))
            } catch {
                exchange.fail(error)
            }
        }
    }
}
