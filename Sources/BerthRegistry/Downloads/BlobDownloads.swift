import BerthHTTP
import BerthUpstream
import BerthStorage

/// The blob downloads this process knows of, by digest: whoever asks for a blob already coming joins its
/// download, whether the mirror or a Kraken namespace's backend asks. Loop-confined.
final class BlobDownloads {
    private let loop: EventLoop
    private var running: [Digest: BlobDownload] = [:]

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// The download of `digest` already running here, else a new one: led by this process when the claim on
    /// disk is free, followed when another worker process holds it.
    func download(_ digest: Digest, from upstream: RegistryUpstream, repository: String, linkTo owner: UploadOwner,
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
}
