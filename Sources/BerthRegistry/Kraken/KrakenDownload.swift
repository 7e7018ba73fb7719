import BerthHTTP
import BerthUpstream
import BerthStorage

/// Kraken's `GET`/`HEAD /namespace/<ns>/blobs/<digest>`: from the store when the namespace links the blob,
/// else from the namespace's registry backend, if it has one.
extension Registry {
    /// `GET`/`HEAD`: the blob when the namespace links it; else, with a registry backend, the blob once the
    /// backend has shown it has it: linked at once when the bytes are stored here already (for another
    /// namespace or repository), otherwise the one download of it, streamed.
    func krakenDownload(_ namespace: Namespace, _ digest: Digest, _ backend: KrakenNamespace.Backend,
                        _ exchange: HTTPExchange) throws {
        if isLinked(digest, in: .namespace(namespace)), let (file, size) = openBlobs.open(digest, in: store) {
            return serveStored(file, size, exchange)
        }
        guard case .registry(let upstream, let configured) = backend else {
            throw KrakenFailure(status: 404, message: "blob \(digest) not found")
        }
        let repository = try backendRepository(namespace, configured)
        if store.blobSize(digest) != nil {
            return confirmAtBackend(digest, upstream, repository, namespace, exchange)
        }
        fetchFromBackend(digest, upstream, repository, namespace, exchange)
    }

    private func serveStored(_ file: OpenFile, _ size: Int64, _ exchange: HTTPExchange) {
        exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")],
                                      body: .file(file, size: size)))
    }

    /// A `HEAD` of the blob at the backend stands for the download the stored bytes make needless.
    private func confirmAtBackend(_ digest: Digest, _ upstream: RegistryClient, _ repository: String, _ namespace: Namespace,
                                  _ exchange: HTTPExchange) {
        upstream.fetch("HEAD", "/v2/\(repository)/blobs/\(digest)", handler: UpstreamBodyCollector(limit: 1 << 20) { [self] result in
            guard exchange.isOpen else { return }
            let error: RegistryError
            switch result {
            case .success(let response) where response.status == 200:
                return loop.offload({ [store] () -> Error? in
                    do { try store.linkToNamespace(digest, namespace); return nil } catch { return error }
                }, then: { [self] error in
                    if let error { return exchange.krakenFail(error) }
                    guard let (file, size) = openBlobs.open(digest, in: store) else {
                        return exchange.krakenFail(KrakenFailure(status: 503, message: "blob \(digest) vanished while it was served"))
                    }
                    serveStored(file, size, exchange)
                })
            case .success(let response):
                error = Mirror.registryError(status: response.status, from: upstream, what: "blob \(digest)", unknown: .blobUnknown)
            case .failure(let failure):
                error = Mirror.registryError(failure, from: upstream, what: "blob \(digest)")
            }
            Log.warn("kraken: HEAD of \(digest) at the backend of \(namespace): \(error.cause ?? error.detail ?? error.message)")
            exchange.krakenFail(KrakenFailure(status: error.status, message: error.detail ?? error.message))
        })
    }

    private func fetchFromBackend(_ digest: Digest, _ upstream: RegistryClient, _ repository: String, _ namespace: Namespace,
                                  _ exchange: HTTPExchange) {
        downloads.serve(digest, from: upstream, repository: repository, linkTo: .namespace(namespace),
                        headers: [("Content-Type", "application/octet-stream")], sizeDeadlineSeconds: options.krakenFetchTimeoutSeconds,
                        store: store, metrics: metrics, to: exchange) { failure in
            switch failure {
            case .busy:
                exchange.krakenFail(KrakenFailure(status: 429, message: "this worker has \(self.downloads.maxWaiting) cold blobs waiting to download"))
            case .unavailable(let error):
                exchange.krakenFail(error)
            case .upstream(let error):
                exchange.krakenFail(KrakenFailure(status: error.status, message: error.detail ?? error.message))
            case .failedElsewhere:
                exchange.krakenFail(KrakenFailure(status: 503, message: "the download of \(digest) failed in another worker"))
            case .vanished:
                exchange.krakenFail(KrakenFailure(status: 503, message: "blob \(digest) vanished while it was served"))
            case .notStarted(let seconds):
                exchange.krakenFail(KrakenFailure(status: 504, message: "the backend did not start sending \(digest) within \(Int(seconds)) s"))
            }
        }
    }
}
