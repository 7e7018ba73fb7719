import BerthHTTP
import Glibc
import BerthStorage

extension Registry {
    /// `GET`/`HEAD /v2/<name>/blobs/<digest>`: only blobs linked in that repository; sent with sendfile.
    func getBlob(_ name: RepositoryName, _ reference: String, _ exchange: HTTPExchange) {
        guard let digest = Digest(reference) else {
            exchange.fail(RegistryError(.digestInvalid, "invalid digest: \(reference)"))
            return
        }
        guard isLinked(digest, in: name), let (file, size) = openBlobs.open(digest, in: store) else {
            exchange.fail(RegistryError(.blobUnknown, "blob \(digest) unknown to repository \(name)"))
            return
        }
        let etag = "\"\(digest)\""
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/octet-stream"),
            ("Docker-Content-Digest", digest.description),
            ("ETag", etag),
            ("Cache-Control", "max-age=31536000"),
        ]
        if exchange.request.header("If-None-Match") == etag {
            headers.removeFirst()
            exchange.respond(HTTPResponse(status: 304, headers: headers))
            return
        }
        exchange.respond(HTTPResponse(status: 200, headers: headers, body: .file(file, size: size)))
    }

    func isLinked(_ digest: Digest, in name: RepositoryName) -> Bool {
        isLinked(digest, in: .repository(name))
    }

    /// Whether the repository (or Kraken namespace) links the blob. A link already read is known to be there
    /// while the store's change counter stands still (see `LinkCheck`), else by one stat(2) while it is the
    /// same file (links change only by rename), instead of opening and reading it for every GET and HEAD.
    func isLinked(_ digest: Digest, in owner: UploadOwner) -> Bool {
        let key = LayerLinkKey(owner: owner, digest: digest)
        let check = LinkCheck(changes: store.changes.value, checkedAt: loop.now)
        let known = layerLinks[key]
        if let known, known.check.holds(changes: check.changes, at: check.checkedAt) { return true }
        guard let identity = store.identity(of: store.linkPath(digest, in: owner)) else { return false }
        if known?.identity != identity {
            guard store.isLinked(digest, in: owner) else { return false }
            if layerLinks.count >= 65_536 { layerLinks.removeAll(keepingCapacity: true) }
        }
        layerLinks[key] = KnownLink(identity: identity, check: check)
        return true
    }

    /// `DELETE /v2/<name>/blobs/<digest>`: removes the repository's link; garbage collection reclaims the bytes.
    func deleteBlob(_ name: RepositoryName, _ reference: String, _ exchange: HTTPExchange) {
        guard options.deleteEnabled else {
            exchange.fail(RegistryError(.unsupported, "deletion is disabled (storage.delete.enabled)"))
            return
        }
        guard let digest = Digest(reference) else {
            exchange.fail(RegistryError(.digestInvalid, "invalid digest: \(reference)"))
            return
        }
        guard store.isLayerLinked(digest, in: name) else {
            exchange.fail(RegistryError(.blobUnknown, "blob \(digest) unknown to repository \(name)"))
            return
        }
        onPool(exchange, { [store] in try store.unlinkLayer(digest, in: name) }) {
            exchange.respond(HTTPResponse(status: 202, headers: [("Docker-Content-Digest", digest.description)]))
        }
    }
}

struct LayerLinkKey: Hashable {
    let owner: UploadOwner
    let digest: Digest
}

struct KnownLink {
    let identity: FileIdentity
    let check: LinkCheck
}
