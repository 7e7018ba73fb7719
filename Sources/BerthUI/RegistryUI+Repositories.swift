import BerthHTTP
import BerthRegistry
import BerthStorage

extension RegistryUI {
    /// The repositories, filtered by `q`, paged by `n` and `last` as `_catalog` pages: the names come from the
    /// catalog's cache (walked on the pool when it changed); the filter, the page's tag counts and last pushes
    /// (one readdir and a stat per tag of the repositories shown) and the rendering run on the pool.
    func repositoriesPage(_ query: FormQuery, _ exchange: HTTPExchange) {
        var context = baseContext(exchange, title: "Repositories")
        let reader = self.reader, paths = self.paths
        let (q, last, n) = (query["q"], query["last"], query["n"])
        registry.repositoryNames { [self] names in
            render(exchange, "repositories") {
                let window = ListWindow(sorted: names, key: { $0 }, query: q, last: last, limit: n)
                let rows: [PageValue] = window.items.map { name in
                    let summary = RepositoryName(name).map(reader.summary) ?? StoreReader.Summary(tagCount: 0, lastPush: nil)
                    return ["name": .text(name), "link": .text(paths.repository(name)), "tags": .number(summary.tagCount),
                            "pushed": .text(summary.lastPush.map(TimeText.utc) ?? "–")]
                }
                context["rows"] = .list(rows)
                context["hasRows"] = .flag(!rows.isEmpty)
                context["query"] = .text(q ?? "")
                context["hasQuery"] = .flag(!(q ?? "").isEmpty)
                context["matching"] = .number(window.matching)
                context["total"] = .number(names.count)
                if let next = window.nextLast {
                    var items = [("n", String(window.items.count)), ("last", next)]
                    if let q, !q.isEmpty { items.insert(("q", q), at: 0) }
                    context["next"] = .text(paths.repositories + "?" + FormQuery.encode(items))
                }
                return context
            }
        }
    }

    /// One repository: its tags (paged as the repositories are), each with its digest, media type, size,
    /// platforms and creation time read from its manifest and config, and the pull lines of one tag.
    func repositoryPage(_ name: RepositoryName, _ query: FormQuery, mayDelete: Bool, _ exchange: HTTPExchange) {
        var context = baseContext(exchange, title: name.value)
        let reader = self.reader, paths = self.paths, deletes = registry.deletesEnabled && mayDelete
        let host = self.host(exchange), plainHTTP = options.plainHTTP
        let (last, n) = (query["last"], query["n"])
        render(exchange, "repository", missing: ("No such repository", "There is no repository \(name.value).")) {
            guard let tags = reader.store.tags(in: name) else { return nil }
            let window = ListWindow(sorted: tags, key: { $0 }, query: nil, last: last, limit: n)
            let entries = window.items.compactMap { reader.tagEntry($0, in: name) }
            context["name"] = .text(name.value)
            context["tagCount"] = .number(tags.count)
            context["hasTags"] = .flag(!entries.isEmpty)
            context["deletes"] = .flag(deletes)
            context["tags"] = .list(entries.map { entry -> PageValue in
                [
                    "tag": .text(entry.tag),
                    "link": .text(paths.manifest(name.value, entry.tag)),
                    "digest": .text(entry.digest.description),
                    "shortDigest": .text(Self.short(entry.digest.description)),
                    "mediaType": .text(entry.manifest?.mediaType ?? "unreadable"),
                    "size": .text(ByteCount.text(entry.bytes)),
                    "platforms": .texts(entry.platforms),
                    "created": .text(entry.created.map(TimeText.config) ?? "–"),
                    "pushed": .text(entry.pushed.map(TimeText.utc) ?? "–"),
                    "deleteLink": .text(paths.delete(name.value, entry.tag)),
                ]
            })
            let shown = tags.contains("latest") ? "latest" : tags.first
            if let shown {
                context["pull"] = ["reference": .text(shown),
                                   "lines": .texts(PullCommands.lines(host: host, repository: name.value, reference: shown, plainHTTP: plainHTTP))]
            }
            if let next = window.nextLast {
                context["next"] = .text(paths.repository(name.value) + "?" + FormQuery.encode([("n", String(window.items.count)), ("last", next)]))
            }
            return context
        }
    }

    /// `sha256:0123456789ab…`: enough to tell digests apart on a page; the full one is in the title.
    static func short(_ digest: String) -> String {
        guard let colon = digest.firstIndex(of: ":") else { return digest }
        let encoded = digest[digest.index(after: colon)...]
        return encoded.count > 12 ? String(digest[...colon]) + encoded.prefix(12) + "…" : digest
    }
}
