import BerthHTTP
import BerthUpstream
import BerthStorage

/// The blob downloads this process knows of, by digest: whoever asks for a blob already coming joins its
/// download, whether the mirror or a Kraken namespace's backend asks, and is served it as it grows. At most
/// `maxLed` are led here at once (each holds two threads and an 8 MiB ring, `DownloadPipeline`): the next ones
/// wait in the order asked, joined like any other, and start as led ones end, unless every client of one has
/// gone by then; at most `maxWaiting` wait (past that a client hears 429 with Retry-After). Following another
/// worker's download costs a timer and a descriptor, and is not bounded here.
/// Loop-confined.
final class BlobDownloads {
    private let loop: EventLoop
    private let maxLed: Int
    /// What a client told `busy` is asked to wait before it tries again.
    static let retryAfterSeconds = 5
    private var running: [Digest: BlobDownload] = [:]
    private var led = 0
    /// Downloads waiting for a turn, first asked first, with how to start each.
    private var waiting: [(download: BlobDownload, start: () -> Void)] = []
    var ledCount: Int { led }
    var waitingCount: Int { waiting.count }
    /// Each waiting download is one or more clients' connections: a bound well past any real pull's layers.
    var maxWaiting: Int { 64 * maxLed }

    init(loop: EventLoop, maxLed: Int) {
        self.loop = loop
        self.maxLed = max(1, maxLed)
    }

    /// The download of `digest` already running or waiting here, else a new one: led by this process when the
    /// claim on disk is free (or waiting for a turn to lead when `maxLed` are led), followed when another worker
    /// process holds it. A led one asks `peers` (the fleet's nodes, `Fleet`) before the upstream.
    func download(_ digest: Digest, from upstream: RegistryClient, repository: String, linkTo owner: UploadOwner,
                  peers: PeerRoute? = nil, store: RegistryStore, metrics: Metrics) throws -> BlobDownload {
        if let download = running[digest] {
            download.clients += 1
            return download
        }
        let download = BlobDownload.waiting(digest, loop: loop, store: store)
        let lead = { [unowned self] (claim: DownloadClaim) in
            led += 1
            download.lead(claim: claim, from: upstream, repository: repository, linkTo: owner, metrics: metrics, peers: peers)
        }
        if led < maxLed {
            guard let claim = try DownloadClaim.claim(BlobDownload.key(digest), in: store) else {
                return remember(download, starting: download.follow)
            }
            return remember(download, starting: { lead(claim) })
        }
        guard waiting.count < maxWaiting else { throw Busy() }
        download.isWaitingForTurn = true
        waiting.append((download, {
            do {
                // Committed meanwhile by another worker: following finds it at once.
                if store.blobSize(digest) == nil, let claim = try DownloadClaim.claim(BlobDownload.key(digest), in: store) {
                    lead(claim)
                } else {
                    download.follow()
                }
            } catch {
                download.abandon(error)
            }
        }))
        return remember(download, starting: {})
    }

    /// Keeps `download` until it ends (and counts a led one until then, its end giving the next waiting one its
    /// turn), then starts it.
    private func remember(_ download: BlobDownload, starting start: () -> Void) -> BlobDownload {
        let digest = download.digest
        download.clients = 1
        running[digest] = download
        download.onEnd = { [weak self, unowned download] in
            guard let self else { return }
            if running[digest] === download { running[digest] = nil }
            if download.isLed {
                led -= 1
                startWaiting()
            }
        }
        start()
        return download
    }

    private func startWaiting() {
        while led < maxLed, !waiting.isEmpty {
            let next = waiting.removeFirst()
            // Not started once every client of it has gone: a client that asks and leaves, over and over,
            // must not queue downloads nobody reads.
            guard next.download.stillWanted.contains(where: { $0() }) else {
                next.download.drop()
                continue
            }
            next.download.stillWanted = []
            next.download.isWaitingForTurn = false
            next.start()
        }
    }

    /// `maxWaiting` downloads wait already.
    struct Busy: Error {}

    /// Why a client of a download is not served it; each caller words it in its own dialect.
    enum ServeFailure {
        /// `maxWaiting` downloads wait already: the client should come back in `retryAfterSeconds`.
        case busy
        /// The download could neither be joined nor started (its claim on disk).
        case unavailable(Error)
        /// The upstream failed, or sent something else than the blob: the answer for that.
        case upstream(RegistryError)
        /// Another worker process led the download and it failed, on every try.
        case failedElsewhere
        /// The blob left the cache between its size and the open.
        case vanished
        /// The upstream did not answer with a size within the deadline.
        case notStarted(seconds: Double)
    }

    /// Serves `digest` from its one download (see `download`): a 200 with `headers` once the size is known, the
    /// body the partial file as it grows (the last byte held back until the digest is verified), or the
    /// stored blob once complete. A download another worker led that ended without the blob is joined
    /// again, `retries` times. `joined` hears of each download joined (for the access log).
    func serve(_ digest: Digest, from upstream: RegistryClient, repository: String, linkTo owner: UploadOwner,
               peers: PeerRoute? = nil, headers: [(name: String, value: String)], sizeDeadlineSeconds: Double? = nil, retries: Int = 1,
               store: RegistryStore, metrics: Metrics, to exchange: HTTPExchange,
               joined: @escaping (BlobDownload) -> Void = { _ in }, failed: @escaping (ServeFailure) -> Void) {
        let download: BlobDownload
        do {
            download = try self.download(digest, from: upstream, repository: repository, linkTo: owner, peers: peers,
                                     store: store, metrics: metrics)
        } catch is Busy {
            return failed(.busy)
        } catch {
            return failed(.unavailable(error))
        }
        if download.isWaitingForTurn {
            download.stillWanted.append({ [weak exchange] in exchange?.isStillWaited == true })
        }
        joined(download)
        var timer: RepeatingTimer?
        if let seconds = sizeDeadlineSeconds {
            timer = loop.repeating(every: UInt64(seconds * 1000)) {
                timer?.stop()
                timer = nil
                failed(.notStarted(seconds: seconds))
            }
        }
        download.whenSized { [self] readiness in
            timer?.stop()
            timer = nil
            guard exchange.isOpen else { return }
            switch readiness {
            case .failed(let error):
                failed(.upstream(error))
            case .retry where retries > 0:
                serve(digest, from: upstream, repository: repository, linkTo: owner, peers: peers, headers: headers,
                      sizeDeadlineSeconds: sizeDeadlineSeconds, retries: retries - 1, store: store, metrics: metrics,
                      to: exchange, joined: joined, failed: failed)
            case .retry:
                failed(.failedElsewhere)
            case .ready:
                guard let size = download.size, let file = download.openForReading() else { return failed(.vanished) }
                let body: HTTPResponse.Body = download.isComplete
                    ? .file(file, size: size)
                    : .growingFile(file, size: size, progress: download)
                exchange.respond(HTTPResponse(status: 200, headers: headers, body: body))
            }
        }
    }
}
