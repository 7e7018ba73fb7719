import BerthHTTP
import BerthStorage
import Glibc

extension Registry {
    /// `GET`/`HEAD /v2/<name>/blobs/<digest>` on a mirror: from the cache, else from the one download of
    /// that blob in progress (started here if there is none, in this process or another). In a fleet, a
    /// download started here asks the blob's owner node first (`Fleet`), unless another node asks.
    func mirrorGetBlob(_ mirror: Mirror, _ name: RepositoryName, _ reference: String, _ exchange: HTTPExchange) {
        guard let digest = Digest(reference) else {
            return exchange.fail(RegistryError(.digestInvalid, "invalid digest: \(reference)"))
        }
        let target: MirrorTarget
        do { target = try mirror.resolve(name, query: exchange.request.query) } catch { return exchange.fail(error) }
        let fromPeer = mirror.fleet != nil && exchange.request.header(Fleet.peerHeader) != nil
        if fromPeer { metrics.mirrorPeerServed += 1 }
        switch mirror.policy.blob(stored: store.blobSize(digest) != nil) {
        case .serve:
            metrics.mirrorHits["blob", default: 0] += 1
            exchange.logNote = ("cache", "hit")
            mirror.recordUse(digest, store: store, now: loop.now)
            if isLinked(digest, in: target.local) { return getBlob(target.local, reference, exchange) }
            // Another repository brought the blob in: link it here too, then serve it.
            return onPool(exchange, { [store] in try store.linkLayer(digest, in: target.local) }) { [self] in
                getBlob(target.local, reference, exchange)
            }
        case .download:
            metrics.mirrorMisses["blob", default: 0] += 1
            let headers: [(name: String, value: String)] = [
                ("Content-Type", "application/octet-stream"),
                ("Docker-Content-Digest", digest.description),
                ("ETag", "\"\(digest)\""),
            ]
            let query = exchange.request.query
            let peers = fromPeer ? nil : mirror.fleet.map {
                PeerRoute(nodes: $0.nodesAbove(digest), path: "/v2/\(name.value)/blobs/\(digest)" + (query.isEmpty ? "" : "?\(query)"))
            }
            downloads.serve(digest, from: target.upstream.registry, repository: target.remote, linkTo: .repository(target.local),
                            peers: peers, headers: headers, store: store, metrics: metrics, to: exchange, joined: { download in
                exchange.logNote = ("cache", download.isLed && download.clients == 1 ? "miss" : "coalesced")
            }, failed: { failure in
                switch failure {
                case .busy:
                    exchange.fail(RegistryError(.tooManyRequests, "this worker has \(self.downloads.maxWaiting) cold blobs waiting to download"),
                                  headers: [("Retry-After", "\(BlobDownloads.retryAfterSeconds)")])
                case .unavailable(let error):
                    exchange.fail(error)
                case .upstream(let error):
                    exchange.failMirrored(error)
                case .failedElsewhere:
                    exchange.fail(RegistryError(.unavailable, "the download of \(digest) failed in another worker"))
                case .vanished:
                    exchange.fail(RegistryError(.unavailable, "blob \(digest) vanished from the cache while it was served"))
                case .notStarted:
                    // No deadline is asked for: the upstream's read timeout bounds the wait.
                    exchange.fail(RegistryError(.unavailable, "the upstream did not start sending \(digest)"))
                }
            })
        }
    }
}
