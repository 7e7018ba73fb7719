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
        guard let (descriptor, size) = store.openLayer(digest, in: name) else {
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
            Glibc.close(descriptor)
            headers.removeFirst()
            exchange.respond(HTTPResponse(status: 304, headers: headers))
            return
        }
        exchange.respond(HTTPResponse(status: 200, headers: headers, body: .file(descriptor: descriptor, size: size)))
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
