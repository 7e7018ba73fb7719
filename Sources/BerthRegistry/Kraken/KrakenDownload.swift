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
        fetchFromBackend(digest, upstream, repository, namespace, exchange, retries: 1)
    }

    private func serveStored(_ file: OpenFile, _ size: Int64, _ exchange: HTTPExchange) {
        exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")],
                                      body: .file(file, size: size)))
    }

    /// A `HEAD` of the blob at the backend stands for the download the stored bytes make needless.
    private func confirmAtBackend(_ digest: Digest, _ upstream: RegistryUpstream, _ repository: String, _ namespace: Namespace,
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

    private func fetchFromBackend(_ digest: Digest, _ upstream: RegistryUpstream, _ repository: String, _ namespace: Namespace,
                                  _ exchange: HTTPExchange, retries: Int) {
        let download: BlobDownload
        do {
            download = try downloads.download(digest, from: upstream, repository: repository, linkTo: .namespace(namespace),
                                              store: store, metrics: metrics)
        } catch {
            return exchange.krakenFail(error)
        }
        let limit = options.krakenFetchTimeoutSeconds
        var timer: RepeatingTimer?
        timer = loop.repeating(every: UInt64(limit * 1000)) {
            timer?.stop()
            timer = nil
            exchange.krakenFail(KrakenFailure(status: 504, message: "the backend did not start sending \(digest) within \(Int(limit)) s"))
        }
        download.whenSized { [self] readiness in
            timer?.stop()
            timer = nil
            guard exchange.isOpen else { return }
            switch readiness {
            case .failed(let error):
                exchange.krakenFail(KrakenFailure(status: error.status, message: error.detail ?? error.message))
            case .retry where retries > 0:
                fetchFromBackend(digest, upstream, repository, namespace, exchange, retries: retries - 1)
            case .retry:
                exchange.krakenFail(KrakenFailure(status: 503, message: "the download of \(digest) failed in another worker"))
            case .ready:
                guard let size = download.size, let file = download.openForReading() else {
                    return exchange.krakenFail(KrakenFailure(status: 503, message: "blob \(digest) vanished while it was served"))
                }
                let body: HTTPResponse.Body = download.isComplete
                    ? .file(file, size: size)
                    : .growingFile(file, size: size, progress: download)
                exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: body))
            }
        }
    }
}
