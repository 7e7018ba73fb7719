import BerthStorage
import BerthUpstream

/// The pull-through mirror's caching rule in one place, as pure decisions: what the cache holds (and how
/// old a tag's validation is) in, what to do out; the handlers do the I/O. A digest names immutable bytes,
/// so a cached manifest by digest and every cached blob are served for good; a tag is served until
/// `proxy.ttl` has passed since it was fetched or last confirmed, then re-validated with a `HEAD` (fetched
/// again only when its digest moved); nothing cached is fetched. When the upstream fails, a cached copy is
/// served anyway (stale) and otherwise the failure's kind is the answer. Eviction past `cache.maxsize` runs
/// in the garbage collector, which knows no mirror: `EvictionOrder` in BerthStorage, fed by the use marks
/// decided here.
struct MirrorCachePolicy {
    /// `proxy.ttl`.
    let tagTTLSeconds: Double
    /// `cache.maxsize` is set: hits are recorded on disk for least-recently-used eviction.
    let recordsUses: Bool

    init(tagTTLSeconds: Double, recordsUses: Bool) {
        self.tagTTLSeconds = tagTTLSeconds
        self.recordsUses = recordsUses
    }

    init(_ options: MirrorOptions) {
        self.init(tagTTLSeconds: options.tagTTLSeconds, recordsUses: options.cacheMaxBytes != nil)
    }

    // MARK: Manifests

    /// What the cache holds for a manifest reference (its bytes stored and linked in the repository).
    enum CachedManifest: Equatable {
        case absent
        case digest(Digest)
        /// The tag's digest, and the seconds since the tag was fetched or last confirmed with the upstream.
        case tag(Digest, secondsSinceValidated: Double)
    }

    enum ManifestAction: Equatable {
        /// From the cache, without asking the upstream.
        case serve(Digest)
        /// Ask the upstream whether the tag still names this digest (`HEAD`).
        case revalidate(Digest)
        /// Nothing usable is cached: `GET` it from the upstream.
        case fetch
    }

    func manifest(_ cached: CachedManifest) -> ManifestAction {
        switch cached {
        case .absent: return .fetch
        case .digest(let digest): return .serve(digest)
        case .tag(let digest, let age): return age < tagTTLSeconds ? .serve(digest) : .revalidate(digest)
        }
    }

    enum Revalidation: Equatable {
        /// The upstream still has the cached digest under the tag: its TTL starts again.
        case unchanged
        /// The tag moved (or the upstream did not say where it points): fetch it.
        case moved
    }

    /// The upstream answered the re-validating `HEAD` with 200 and this `Docker-Content-Digest`.
    func revalidation(of cached: Digest, announced: String?) -> Revalidation {
        announced == cached.description ? .unchanged : .moved
    }

    enum RefreshFailure: Equatable {
        /// Serve the cached copy anyway (counted as stale).
        case serveStale
        /// Answer with the failure.
        case fail
    }

    /// Bringing a manifest up to date failed, whatever the upstream said: a cached copy is better than none.
    func afterFailedRefresh(cachedCopy: Bool) -> RefreshFailure {
        cachedCopy ? .serveStale : .fail
    }

    // MARK: Blobs

    enum BlobAction: Equatable {
        case serve
        /// Join the one download of the blob, started if there is none.
        case download
    }

    /// A blob is content-addressed: stored is current, for good.
    func blob(stored: Bool) -> BlobAction {
        stored ? .serve : .download
    }

    // MARK: Use marks

    /// A use is written to disk (the data file's mtime) at most this often per blob and process: eviction
    /// needs the order of uses, not each one, and a hot blob would cost a `utimes` per request.
    static let useMarkIntervalMilliseconds: UInt64 = 5_000

    /// Whether a hit at `now` (loop milliseconds) is recorded, given when this process last recorded one.
    func recordsUse(lastRecorded: UInt64?, now: UInt64) -> Bool {
        guard recordsUses else { return false }
        guard let lastRecorded else { return true }
        return now - lastRecorded >= Self.useMarkIntervalMilliseconds
    }

    // MARK: Upstream failures

    /// How an exchange with the upstream went wrong.
    enum UpstreamFailure: Equatable {
        /// It could not be reached: its name does not resolve, the connection is refused or fails, or it
        /// timed out (`UpstreamError.isUnreachable`).
        case unreachable
        /// The exchange failed otherwise: TLS, a malformed or cut-short answer, a token refused, redirects.
        case exchangeFailed
        /// It answered with this non-success status.
        case status(Int)

        init(_ error: UpstreamError) {
            self = error.isUnreachable ? .unreachable : .exchangeFailed
        }
    }

    /// The answer a client gets for an upstream's failure, before any stale copy is considered.
    enum FailureAnswer: Equatable {
        /// 404 with the kind's unknown code (`MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`): containerd then falls back
        /// to the registry itself.
        case unknown
        /// The upstream refused access (401, 403): 404 as well, so containerd falls back too; the upstream's
        /// credentials are ours, not the client's, so a 401 would ask the client for the wrong ones.
        case refused
        /// 429: the upstream is rate-limiting; the client may retry later.
        case rateLimited
        /// 503: the upstream could not be reached.
        case unreachable
        /// 502: the upstream answered, but not with something usable.
        case badAnswer
    }

    static func answer(for failure: UpstreamFailure) -> FailureAnswer {
        switch failure {
        case .unreachable: return .unreachable
        case .exchangeFailed: return .badAnswer
        case .status(404): return .unknown
        case .status(401), .status(403): return .refused
        case .status(429): return .rateLimited
        case .status: return .badAnswer
        }
    }
}
