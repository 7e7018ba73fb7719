import BerthHTTP
import BerthUpstream
import BerthStorage

/// The blob downloads this process knows of, by digest: whoever asks for a blob already coming joins its
/// download, whether the mirror or a Kraken namespace's backend asks, and is served it as it grows.
/// Loop-confined.
final class BlobDownloads {
    private let loop: EventLoop
    private var running: [Digest: BlobDownload] = [:]

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// The download of `digest` already running here, else a new one: led by this process when the claim on
    /// disk is free, followed when another worker process holds it.
    func download(_ digest: Digest, from upstream: RegistryClient, repository: String, linkTo owner: UploadOwner,
                  store: RegistryStore, metrics: Metrics) throws -> BlobDownload {
        if let download = running[digest] {
            download.clients += 1
            return download
        }
        let download: BlobDownload
        if let claim = try DownloadClaim.claim(BlobDownload.key(digest), in: store) {
            download = BlobDownload.lead(digest, claim: claim, from: upstream, repository: repository, linkTo: owner,
                                         loop: loop, store: store, metrics: metrics)
        } else {
            download = BlobDownload.follow(digest, loop: loop, store: store)
        }
        download.clients = 1
        guard download.outcome == nil else { return download }
        running[digest] = download
        download.onEnd = { [weak self, weak download] in
            if let download, self?.running[digest] === download { self?.running[digest] = nil }
        }
        return download
    }

    /// Why a client of a download is not served it; each caller words it in its own dialect.
    enum ServeFailure {
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
               headers: [(name: String, value: String)], sizeDeadlineSeconds: Double? = nil, retries: Int = 1,
               store: RegistryStore, metrics: Metrics, to exchange: HTTPExchange,
               joined: @escaping (BlobDownload) -> Void = { _ in }, failed: @escaping (ServeFailure) -> Void) {
        let download: BlobDownload
        do {
            download = try self.download(digest, from: upstream, repository: repository, linkTo: owner, store: store, metrics: metrics)
        } catch {
            return failed(.unavailable(error))
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
                serve(digest, from: upstream, repository: repository, linkTo: owner, headers: headers,
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
