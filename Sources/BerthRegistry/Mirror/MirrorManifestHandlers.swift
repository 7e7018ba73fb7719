import BerthHTTP
import BerthUpstream
import BerthStorage

extension Registry {
    /// Every manifest type a client may get: asked for when re-validating and when fetching by digest.
    static let manifestAccept = [
        ManifestMediaType.ociIndex, ManifestMediaType.ociManifest,
        ManifestMediaType.dockerList, ManifestMediaType.dockerSchema2,
    ].joined(separator: ", ")

    /// `GET`/`HEAD /v2/<name>/manifests/<reference>` on a mirror: served, re-validated or fetched as
    /// `MirrorCachePolicy` decides from what the cache holds.
    func mirrorGetManifest(_ mirror: Mirror, _ name: RepositoryName, _ text: String, _ exchange: HTTPExchange,
                           waitForOthers: Bool = true) {
        let target: MirrorTarget
        let reference: ManifestReference
        do {
            target = try mirror.resolve(name, query: exchange.request.query)
            reference = try parseReference(text)
        } catch {
            return exchange.fail(error)
        }
        let local = target.local
        let cached: Digest?
        switch mirror.policy.manifest(cachedManifest(reference, in: local)) {
        case .serve(let digest):
            metrics.mirrorHits["manifest", default: 0] += 1
            exchange.logNote = ("cache", waitForOthers ? "hit" : "coalesced")
            mirror.recordUse(digest, store: store, now: loop.now)
            return getManifest(local, text, exchange)
        case .revalidate(let digest):
            cached = digest
        case .fetch:
            cached = nil
            metrics.mirrorMisses["manifest", default: 0] += 1
        }
        let accept = exchange.request.headerValues("accept").joined(separator: ", ")
        // A second round (another process fetched it) or a fetch already running here: this request is coalesced.
        let joins = !waitForOthers || mirror.manifestWaiters[Self.manifestFetchKey(target, text)] != nil
        refreshManifest(mirror, target, reference, text: text, cached: cached, accept: accept,
                        waitForOthers: waitForOthers) { [self] outcome in
            guard exchange.isOpen else { return }
            switch outcome {
            case .stored:
                exchange.logNote = ("cache", joins ? "coalesced" : "miss")
                getManifest(local, text, exchange)
            case .revalidated:
                exchange.logNote = ("cache", joins ? "coalesced" : "revalidated")
                getManifest(local, text, exchange)
            case .elsewhere:
                mirrorGetManifest(mirror, name, text, exchange, waitForOthers: false)
            case .failed(let error):
                switch mirror.policy.afterFailedRefresh(cachedCopy: cached != nil) {
                case .serveStale:
                    Log.warn("mirror: serving \(local):\(text) from the cache: \(error.detail ?? error.message)")
                    metrics.mirrorStale += 1
                    exchange.logNote = ("cache", "stale")
                    getManifest(local, text, exchange)
                case .fail:
                    exchange.logNote = ("cache", "miss")
                    exchange.failMirrored(error)
                }
            }
        }
    }

    /// What the cache holds for `reference`: a manifest counts only with its bytes stored.
    private func cachedManifest(_ reference: ManifestReference, in local: RepositoryName) -> MirrorCachePolicy.CachedManifest {
        switch reference {
        case .digest(let digest):
            guard store.isManifestLinked(digest, in: local), store.blobSize(digest) != nil else { return .absent }
            return .digest(digest)
        case .tag(let tag):
            guard let digest = store.resolveTag(tag, in: local), store.blobSize(digest) != nil,
                  let age = store.secondsSinceTagValidated(tag, in: local) else { return .absent }
            return .tag(digest, secondsSinceValidated: age)
        }
    }

    /// Brings the cached manifest for `reference` up to date with the upstream, once however many clients
    /// ask at the same time (in this process by a list of waiters, across processes by a claim on disk).
    private func refreshManifest(_ mirror: Mirror, _ target: MirrorTarget, _ reference: ManifestReference,
                                 text: String, cached: Digest?, accept: String, waitForOthers: Bool,
                                 completion: @escaping (ManifestRefresh) -> Void) {
        let key = Self.manifestFetchKey(target, text)
        if mirror.manifestWaiters[key] != nil {
            mirror.manifestWaiters[key]!.append(completion)
            return
        }
        let claimKey = "manifest-" + Digest.sha256(of: Array(key.utf8)).encoded
        let claim: DownloadClaim?
        do { claim = try DownloadClaim.claim(claimKey, in: store) } catch {
            return completion(.failed(.concealing(error, "claiming the manifest fetch", code: .unavailable)))
        }
        if claim == nil && waitForOthers {
            mirror.manifestWaiters[key] = [completion]
            waitForClaim(claimKey) { [weak mirror] in
                let waiters = mirror?.manifestWaiters.removeValue(forKey: key) ?? []
                waiters.forEach { $0(.elsewhere) }
            }
            return
        }
        mirror.manifestWaiters[key] = [completion]
        let finish: (ManifestRefresh) -> Void = { [weak mirror] outcome in
            claim?.abandon()
            let waiters = mirror?.manifestWaiters.removeValue(forKey: key) ?? []
            waiters.forEach { $0(outcome) }
        }
        let upstream = target.upstream.registry
        let policy = mirror.policy
        let path = "/v2/\(target.remote)/manifests/\(text)"
        guard let cached, case .tag(let tag) = reference else {
            return fetchManifest(target, reference, text: text, accept: accept, finish)
        }
        // The client's Accept, as when the tag was fetched: a client that takes no index was given one platform's
        // manifest, and asking with every type would answer the index's digest and look like a moved tag.
        upstream.fetch("HEAD", path, headers: [("Accept", accept.isEmpty ? Self.manifestAccept : accept)], handler: UpstreamBodyCollector(limit: options.maxManifestBytes) { [self] result in
            switch result {
            case .success(let response) where response.status == 200:
                switch policy.revalidation(of: cached, announced: response.headers["Docker-Content-Digest"]) {
                case .unchanged:
                    metrics.mirrorRevalidations += 1
                    loop.offload({ [store] in store.markTagValidated(tag, in: target.local) }, then: { finish(.revalidated) })
                case .moved:
                    fetchManifest(target, reference, text: text, accept: accept, finish)
                }
            case .success(let response):
                finish(.failed(Mirror.registryError(status: response.status, from: upstream, what: "manifest \(target.remote):\(text)", unknown: .manifestUnknown)))
            case .failure(let error):
                finish(.failed(Mirror.registryError(error, from: upstream, what: "manifest \(target.remote):\(text)")))
            }
        })
    }

    /// By cache name: two upstreams that share one (docker.io in `mirrors` and `proxy.remoteurl`) share the fetch.
    private static func manifestFetchKey(_ target: MirrorTarget, _ text: String) -> String {
        "\(target.local) \(text)"
    }

    /// GETs the manifest, checks its digest and stores it (blob, revision link, tag).
    private func fetchManifest(_ target: MirrorTarget, _ reference: ManifestReference, text: String,
                               accept: String, _ finish: @escaping (ManifestRefresh) -> Void) {
        let what = "manifest \(target.remote):\(text)"
        let path = "/v2/\(target.remote)/manifests/\(text)"
        let limit = options.maxManifestBytes
        let headers = [("Accept", accept.isEmpty ? Self.manifestAccept : accept)]
        target.upstream.registry.fetch("GET", path, headers: headers, handler: UpstreamBodyCollector(limit: limit) { [self] result in
            let response: UpstreamBodyCollector.Response
            switch result {
            case .success(let answer) where answer.status == 200:
                response = answer
            case .success(let answer):
                return finish(.failed(Mirror.registryError(status: answer.status, from: target.upstream.registry, what: what, unknown: .manifestUnknown)))
            case .failure(let error):
                return finish(.failed(Mirror.registryError(error, from: target.upstream.registry, what: what)))
            }
            metrics.mirrorUpstreamBytes += Int64(response.body.count)
            let body = response.body
            let digest = Digest.sha256(of: body)
            if case .digest(let requested) = reference, requested != digest {
                return finish(.failed(RegistryError(.upstreamFailed, "the upstream sent \(digest) for \(requested)")))
            }
            if let announced = response.headers["Docker-Content-Digest"], announced.hasPrefix("sha256:"), announced != digest.description {
                return finish(.failed(RegistryError(.upstreamFailed, "the upstream announced \(announced) but sent \(digest)")))
            }
            let local = target.local
            loop.offload({ [store] () -> Error? in
                do {
                    try store.storeBlob(body, digest: digest)
                    try store.linkManifest(digest, in: local)
                    if case .tag(let tag) = reference { try store.setTag(tag, to: digest, in: local) }
                    return nil
                } catch { return error }
            }, then: { error in
                if let error {
                    finish(.failed(.concealing(error, "storing \(what)", code: .unavailable)))
                } else {
                    finish(.stored)
                }
            })
        })
    }

    /// Calls `done` once no process holds the claim `key` (polling: the holder is another process).
    private func waitForClaim(_ key: String, _ done: @escaping () -> Void) {
        var timer: RepeatingTimer?
        timer = loop.repeating(every: 5) { [store] in
            guard store.observeDownload(key) == .idle else { return }
            timer?.stop()
            timer = nil
            done()
        }
    }
}
