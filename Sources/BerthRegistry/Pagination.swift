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
        let limit: Int
        switch DecimalDigits.parse(text) {
        case .value(let value)?: limit = Int(value)
        // More than any list holds: all of it.
        case .tooLarge?: limit = .max
        case nil: throw RegistryError(.unsupported, "n must be a non-negative integer", message: "invalid pagination", status: 400)
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

/// The sorted repository names, walked from disk once and reused by the page requests that follow, so
/// paging through 10,000 repositories is not 100 directory walks. The store replaces a marker file when a
/// repository appears or goes (in any worker process); one stat of it tells whether the list still holds.
/// A walk is also redone after `freshness`, for repositories another program (registry:2) created. Loop-confined.
final class Catalog {
    private let freshnessMilliseconds: UInt64
    private var cached: [String] = []
    private var walkedAt: UInt64?
    private var marker: FileIdentity?
    private var waiting: [([String]) -> Void] = []

    init(freshnessMilliseconds: UInt64 = 30_000) {
        self.freshnessMilliseconds = freshnessMilliseconds
    }

    func names(loop: EventLoop, store: RegistryStore, _ completion: @escaping ([String]) -> Void) {
        let current = store.catalogMarker
        if let walkedAt, loop.now - walkedAt < freshnessMilliseconds, current == marker {
            completion(cached)
            return
        }
        waiting.append(completion)
        guard waiting.count == 1 else { return }
        loop.offload({ store.repositories() }, then: { [self] names in
            cached = names
            walkedAt = loop.now
            marker = current
            let callbacks = waiting
            waiting = []
            callbacks.forEach { $0(names) }
        })
    }
}
