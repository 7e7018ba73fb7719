import BerthHTTP
import BerthRegistry
import BerthStorage

extension RegistryUI {
    /// `GET .../-/delete/<reference>`: what would go, and a form that POSTs to the same path. Nothing is deleted
    /// by a GET, so a prefetching browser or a crawler deletes nothing.
    func confirmDeletePage(_ name: RepositoryName, _ reference: String, _ exchange: HTTPExchange) {
        guard registry.deletesEnabled else { return refuseDisabled(exchange) }
        var context = baseContext(exchange, title: "Delete \(name.value):\(reference)")
        let reader = self.reader, paths = self.paths
        loop.offload({ reader.resolve(reference, in: name)?.digest }, then: { [self] digest in
            guard let digest else {
                return respondError(exchange, status: 404, heading: "No such manifest", message: "\(name.value) has no manifest \(reference).")
            }
            render(exchange, "delete") {
                var confirm: PageFields = ["action": .text(paths.delete(name.value, reference))]
                if reference.contains(":") {
                    // registry:2's manifest delete takes every tag on the revision with it.
                    let tags = (reader.store.tags(in: name) ?? []).filter { Tag($0).flatMap { reader.store.resolveTag($0, in: name) } == digest }
                    confirm["what"] = "manifest \(digest)"
                    confirm["consequence"] = "The manifest \(digest) leaves \(name.value), with every tag that points at it."
                    confirm["alsoTags"] = .texts(tags)
                    confirm["hasAlsoTags"] = .flag(!tags.isEmpty)
                    confirm["cancelLink"] = .text(paths.manifest(name.value, reference))
                } else {
                    confirm["what"] = "tag \(name.value):\(reference)"
                    confirm["consequence"] = "The tag \(reference) leaves \(name.value); the manifest \(digest) it points at stays, reachable by its digest and any other tag."
                    confirm["cancelLink"] = .text(paths.repository(name.value))
                }
                context["confirm"] = .fields(confirm)
                context["name"] = .text(name.value)
                context["repositoryLink"] = .text(paths.repository(name.value))
                return context
            }
        })
    }

    /// `POST .../-/delete/<reference>`: the API's own delete (`Registry.deleteManifest`, as `DELETE
    /// /v2/<name>/manifests/<reference>`), for a form of this server only (`SameOriginCheck`).
    func delete(_ name: RepositoryName, _ reference: String, _ exchange: HTTPExchange) {
        guard registry.deletesEnabled else { return refuseDisabled(exchange) }
        let request = exchange.request
        guard SameOriginCheck.allows(host: request.header("Host"), origin: request.header("Origin"), referer: request.header("Referer")) else {
            return respondError(exchange, status: 403, heading: "Refused", message: "A delete must come from this server's own confirmation page (the Origin or Referer header names another site, or neither was sent).")
        }
        var context = baseContext(exchange, title: "Deleted \(name.value):\(reference)")
        let paths = self.paths
        registry.deleteManifest(name, reference: reference) { [self] result in
            switch result {
            case .success:
                context["done"] = ["what": .text(reference.contains(":") ? "manifest \(reference)" : "tag \(name.value):\(reference)")]
                context["name"] = .text(name.value)
                context["repositoryLink"] = .text(paths.repository(name.value))
                render(exchange, "delete") { context }
            case .failure(let error):
                respondError(exchange, status: error.status, heading: "Not deleted", message: error.message)
            }
        }
    }

    private func refuseDisabled(_ exchange: HTTPExchange) {
        respondError(exchange, status: 405, heading: "Deletes are disabled", message: "This registry does not delete: storage.delete.enabled is false.")
    }
}
