import BerthHTTP
import BerthStorage

extension Registry {
    func listTags(_ name: RepositoryName, _ exchange: HTTPExchange) {
        guard let tags = store.tags(in: name) else {
            exchange.fail(RegistryError(.nameUnknown, "repository \(name) not known"))
            return
        }
        do {
            let page = try Page(sorted: tags, query: QueryParameters(exchange.request.query), path: exchange.request.path)
            let body = "{\"name\":\(JSONString.quoted(name.value)),\"tags\":\(JSONString.array(Array(page.items)))}\n"
            exchange.respond(HTTPResponse(status: 200, headers: page.headers, text: body))
        } catch {
            exchange.fail(error)
        }
    }

    func listRepositories(_ exchange: HTTPExchange) {
        catalog.names(loop: loop, store: store) { repositories in
            do {
                let page = try Page(sorted: repositories, query: QueryParameters(exchange.request.query), path: exchange.request.path)
                let body = "{\"repositories\":\(JSONString.array(Array(page.items)))}\n"
                exchange.respond(HTTPResponse(status: 200, headers: page.headers, text: body))
            } catch {
                exchange.fail(error)
            }
        }
    }
}
