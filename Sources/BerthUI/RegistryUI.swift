import BerthHTTP
import BerthRegistry
import BerthStorage
import Glibc

/// What `ui.*` configures.
public struct UIOptions {
    /// `ui.path`: where the pages live (`/ui`), without a trailing slash.
    public var prefix = "/ui"
    public var version = ""
    /// No `http.tls`: the pull lines carry the clients' plain-HTTP flags.
    public var plainHTTP = true

    public init() {}
}

/// Berth's web UI: server-rendered pages under `ui.path` on the registry's own port. The registry hands it
/// the requests under the prefix (behind the same gate as `/v2/`); every page gathers what the loop holds
/// (the catalog's names, the metrics, the upstreams' health), then reads the store and renders its template on
/// the pool, so the loop does no disk I/O and no rendering for it. Counted in `/metrics` as the routes
/// `ui_page` and `ui_asset`. Loop-confined.
public final class RegistryUI {
    let registry: Registry
    let loop: EventLoop
    let options: UIOptions
    let templates: PageTemplates
    let paths: UIPaths
    let reader: StoreReader
    var census: StoreCensus?
    var censusRunning = false
    var history = MetricsHistory()
    /// The minute a GC sweep count was last seen to grow (the overview's "last GC").
    var lastGCSeen: (runs: Double, seconds: Int?) = (0, nil)

    public init(registry: Registry, loop: EventLoop, options: UIOptions, templates: PageTemplates) {
        self.registry = registry
        self.loop = loop
        self.options = options
        self.templates = templates
        paths = UIPaths(prefix: options.prefix)
        reader = StoreReader(store: registry.storage)
        registry.ui = (options.prefix, { [unowned self] in self.handle($0, $1) })
    }

    func handle(_ exchange: HTTPExchange, _ viewer: UIViewer) {
        let request = exchange.request
        guard let route = UIRoute.parse(request.path.dropFirst(options.prefix.count)) else {
            exchange.label = "ui_page"
            return respondError(exchange, status: 404, heading: "Not found", message: "No page at \(request.path).")
        }
        if case .asset(let name) = route {
            exchange.label = "ui_asset"
            return serveAsset(name, exchange)
        }
        exchange.label = "ui_page"
        guard viewer.mayList else {
            return respondError(exchange, status: 403, heading: "Not allowed",
                                message: "\(viewer.user ?? "Anonymous") may not see this registry's repositories (the access rules grant no registry:catalog:*).")
        }
        if case .delete(let name, _) = route, !viewer.mayDelete(in: name.value) {
            return respondError(exchange, status: 403, heading: "Not allowed", message: "\(viewer.user ?? "Anonymous") may not delete in \(name.value).")
        }
        // The bare prefix: relative links need the slash.
        if request.path.utf8.count == options.prefix.utf8.count {
            return exchange.respond(HTTPResponse(status: 301, headers: [("Location", paths.repositories)]))
        }
        switch (route, request.method) {
        case (.delete(let name, let reference), .post):
            return delete(name, reference, exchange)
        case (_, .get), (_, .head):
            break
        default:
            return respondError(exchange, status: 405, heading: "Method not allowed", message: "\(request.method.name) is not allowed on \(request.path).",
                                headers: [("Allow", route.isDelete ? "GET, HEAD, POST" : "GET, HEAD")])
        }
        let query = FormQuery(request.query)
        switch route {
        case .repositories: repositoriesPage(query, exchange)
        case .overview: overviewPage(exchange)
        case .repository(let name): repositoryPage(name, query, mayDelete: viewer.mayDelete(in: name.value), exchange)
        case .manifest(let name, let reference): manifestPage(name, reference, mayDelete: viewer.mayDelete(in: name.value), exchange)
        case .delete(let name, let reference): confirmDeletePage(name, reference, exchange)
        case .asset: break
        }
    }

    // MARK: Answers

    /// Pages change with every push: a browser asks again each time (no-cache), and keeps no copy of a page that
    /// may show private names (private). The policy allows only this server's own style sheet and script (no
    /// inline script), and the script's fetches of this server's pages (search as you type).
    static let pageHeaders: [(name: String, value: String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-cache, private"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ]

    /// The parts of every page's context: the layout's links, the host, the version.
    func baseContext(_ exchange: HTTPExchange, title: String) -> PageFields {
        var context: PageFields = [
            "title": .text(title),
            "home": .text(paths.repositories),
            "overviewPath": .text(paths.overview),
            "host": .text(host(exchange)),
            "version": .text(options.version),
            "isMirror": .flag(registry.isMirror),
        ]
        for (name, key) in [("berth.css", "css"), ("berth.js", "js")] {
            if let asset = templates.assets[name] { context[key] = .text(paths.asset(asset.name) + "?v=" + asset.etag.filter { $0 != "\"" }) }
        }
        return context
    }

    func host(_ exchange: HTTPExchange) -> String {
        exchange.request.header("Host") ?? "localhost"
    }

    /// Renders on the pool with what `work` read there, and answers on the loop. `work` returns nil when what the
    /// page shows is not there: then the answer is the 404 page `missing` (one trip to the pool, not two).
    func render(_ exchange: HTTPExchange, _ template: String, status: Int = 200, headers: [(name: String, value: String)] = [],
                missing: (heading: String, message: String) = ("Not found", "Nothing is there."), _ work: @escaping () -> PageFields?) {
        let templates = self.templates
        loop.offload({ () -> ([UInt8]?, Double, Double) in
            let started = Self.milliseconds()
            guard let context = work() else { return (nil, 0, 0) }
            let read = Self.milliseconds()
            return (templates.render(template, context), read - started, Self.milliseconds() - read)
        }, then: { [self] html, reading, rendering in
            guard let html else { return respondError(exchange, status: 404, heading: missing.heading, message: missing.message) }
            // What a page costs the pool, apart from its wait for a thread: the access line has the total.
            if Log.level == .debug { Log.debug("ui: \(exchange.request.path): read \(reading) ms, rendered \(rendering) ms") }
            exchange.respond(HTTPResponse(status: status, headers: Self.pageHeaders + headers, body: .bytes(html)))
        })
    }

    func respondError(_ exchange: HTTPExchange, status: Int, heading: String, message: String, headers: [(name: String, value: String)] = []) {
        var context = baseContext(exchange, title: heading)
        context["heading"] = .text(heading)
        context["message"] = .text(message)
        render(exchange, "error", status: status, headers: headers) { context }
    }

    private func serveAsset(_ name: String, _ exchange: HTTPExchange) {
        guard let asset = templates.assets[name] else {
            return exchange.respond(HTTPResponse(status: 404, headers: [("Content-Type", "text/plain; charset=utf-8")], text: "not found\n"))
        }
        // Links carry `?v=<etag>`, so a long max-age is safe; the ETag answers a revalidation with 304.
        let headers: [(name: String, value: String)] = [("ETag", asset.etag), ("Cache-Control", "public, max-age=86400"), ("X-Content-Type-Options", "nosniff")]
        if exchange.request.header("If-None-Match") == asset.etag {
            return exchange.respond(HTTPResponse(status: 304, headers: headers))
        }
        exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", asset.contentType)] + headers, body: .bytes(asset.bytes)))
    }
}

extension RegistryUI {
    static func milliseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) * 1000 + Double(now.tv_nsec) / 1e6
    }
}

extension UIRoute {
    var isDelete: Bool {
        if case .delete = self { return true }
        return false
    }
}
