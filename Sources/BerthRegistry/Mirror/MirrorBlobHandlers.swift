import BerthHTTP
import BerthStorage
import Glibc

extension Registry {
    /// `GET`/`HEAD /v2/<name>/blobs/<digest>` on a mirror: from the cache, else from the one download of
    /// that blob in progress (started here if there is none, in this process or another).
    func mirrorGetBlob(_ mirror: Mirror, _ name: RepositoryName, _ reference: String, _ exchange: HTTPExchange) {
        guard let digest = Digest(reference) else {
            return exchange.fail(RegistryError(.digestInvalid, "invalid digest: \(reference)"))
        }
        let repository: MirroredRepository
        do { repository = try mirror.resolve(name, query: exchange.request.query) } catch { return exchange.fail(error) }
        if store.blobSize(digest) != nil {
            metrics.mirrorHits["blob", default: 0] += 1
            exchange.logNote = ("cache", "hit")
            mirror.recordUse(digest, store: store, now: loop.now)
            if isLinked(digest, in: repository.local) { return getBlob(repository.local, reference, exchange) }
            // Another repository brought the blob in: link it here too, then serve it.
            return onPool(exchange, { [store] in try store.linkLayer(digest, in: repository.local) }) { [self] in
                getBlob(repository.local, reference, exchange)
            }
        }
        metrics.mirrorMisses["blob", default: 0] += 1
        serveDownload(mirror, digest, repository, exchange, retries: 1)
    }

    private func serveDownload(_ mirror: Mirror, _ digest: Digest, _ repository: MirroredRepository, _ exchange: HTTPExchange, retries: Int) {
        let download: BlobDownload
        do { download = try self.download(mirror, digest, repository) } catch { return exchange.fail(error) }
        exchange.logNote = ("cache", download.isLed && download.clients == 1 ? "miss" : "coalesced")
        download.whenSized { [self] readiness in
            guard exchange.isOpen else { return }
            switch readiness {
            case .failed(let error):
                exchange.failMirrored(error)
            case .retry where retries > 0:
                serveDownload(mirror, digest, repository, exchange, retries: retries - 1)
            case .retry:
                exchange.fail(RegistryError(.unavailable, "the download of \(digest) failed in another worker"))
            case .ready:
                guard let size = download.size, let file = download.openForReading() else {
                    return exchange.fail(RegistryError(.unavailable, "blob \(digest) vanished from the cache while it was served"))
                }
                let headers: [(name: String, value: String)] = [
                    ("Content-Type", "application/octet-stream"),
                    ("Docker-Content-Digest", digest.description),
                    ("ETag", "\"\(digest)\""),
                ]
                let body: HTTPResponse.Body = download.isComplete
                    ? .file(file, size: size)
                    : .growingFile(file, size: size, progress: download)
                exchange.respond(HTTPResponse(status: 200, headers: headers, body: body))
            }
        }
    }

    /// The download of `digest` this process already knows of, else a new one: led here when the claim
    /// on disk is free, followed when another worker process holds it.
    private func download(_ mirror: Mirror, _ digest: Digest, _ repository: MirroredRepository) throws -> BlobDownload {
        try downloads.download(digest, from: repository.upstream.registry, repository: repository.remote,
                               linkTo: .repository(repository.local), store: store, metrics: metrics)
    }
}
