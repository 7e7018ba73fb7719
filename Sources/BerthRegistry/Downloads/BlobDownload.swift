import BerthHTTP
import BerthUpstream
import BerthStorage
import Glibc

/// One blob coming from an upstream, shared by every client of this process that asks for it meanwhile.
/// In the process that holds the download's claim it is the download itself: the upstream body is hashed
/// and written to the partial file as it arrives, by the download's own threads (`DownloadPipeline`). In any
/// other process it follows that download on disk. Either way clients are sent the partial file as it grows (`GrowingFile`), and the
/// last byte is held back until the digest is verified: a failed or wrong download cuts every client short.
/// Loop-confined.
final class BlobDownload: GrowingFile, UpstreamResponseHandler {
    enum Outcome {
        case complete
        /// The answer for clients still waiting for the size.
        case failed(RegistryError)
        /// The download another process held ended without a blob: whoever still waits may try again.
        case failedElsewhere
    }

    /// What a client waiting for the size hears.
    enum Readiness {
        case ready
        case failed(RegistryError)
        case retry
    }

    let digest: Digest
    private let loop: EventLoop
    private let store: RegistryStore
    private(set) var size: Int64?
    /// Bytes at the start of the partial file known to be written.
    private var written: Int64 = 0
    private(set) var outcome: Outcome?
    private var sizeWaiters: [(Readiness) -> Void] = []
    private var growthWaiters: [(offset: Int64, wake: (Bool) -> Void)] = []
    /// Runs once when the download ends, to forget it.
    var onEnd: (() -> Void)?
    /// Where a led download comes from, to name it in a failure: set in every led download, the only ones
    /// the upstream's events reach.
    private var upstream: RegistryClient!
    /// Requests of this process that asked for this download: the first of one led here is the cache's miss,
    /// every other one a coalesced request (for the access log).
    var clients = 0
    /// Set while the download waits for its turn (`BlobDownloads`' bound).
    var isWaitingForTurn = false
    /// One per client of a download waiting for its turn: whether that client still waits for it.
    var stillWanted: [() -> Bool] = []
    var isLed: Bool { upstream != nil }

    private init(digest: Digest, loop: EventLoop, store: RegistryStore) {
        self.digest = digest
        self.loop = loop
        self.store = store
    }

    static func key(_ digest: Digest) -> String { "blob-" + digest.encoded }

    // MARK: What clients see

    var availableBytes: Int64 {
        if case .complete = outcome { return size ?? written }
        guard let size else { return 0 }
        return min(written, size - 1)
    }

    func whenAvailable(beyond offset: Int64, _ wake: @escaping (Bool) -> Void) {
        switch outcome {
        case .complete: wake(true)
        case .failed, .failedElsewhere: wake(false)
        case nil: growthWaiters.append((offset, wake))
        }
    }

    /// Calls `ready` once the size is known, or the download failed before.
    func whenSized(_ ready: @escaping (Readiness) -> Void) {
        switch outcome {
        case .failed(let error): return ready(.failed(error))
        case .failedElsewhere: return ready(.retry)
        case .complete: return ready(.ready)
        case nil: if size != nil { return ready(.ready) }
        }
        sizeWaiters.append(ready)
    }

    /// The file for one client: the partial file while it exists, the blob once it is committed.
    func openForReading() -> OpenFile? {
        if case .complete = outcome { return store.openBlob(digest).map { OpenFile(descriptor: $0.descriptor) } }
        if let fd = store.openDownloadData(Self.key(digest)) { return OpenFile(descriptor: fd) }
        return store.openBlob(digest).map { OpenFile(descriptor: $0.descriptor) }
    }

    private func sized(_ size: Int64) {
        guard self.size == nil else { return }
        self.size = size
        let waiters = sizeWaiters
        sizeWaiters = []
        waiters.forEach { $0(.ready) }
    }

    private func grew(to count: Int64) {
        written = count
        let available = availableBytes
        guard growthWaiters.contains(where: { $0.offset < available }) else { return }
        let ready = growthWaiters.filter { $0.offset < available }
        growthWaiters.removeAll { $0.offset < available }
        trace.note(.woken, ready.count)
        ready.forEach { $0.wake(true) }
    }

    var isComplete: Bool {
        if case .complete = outcome { return true }
        return false
    }

    private func end(_ outcome: Outcome) {
        guard self.outcome == nil else { return }
        self.outcome = outcome
        if trace.isOn {
            trace.note(isComplete ? .verified : .failed)
            trace.save(digest)
        }
        if case .complete = outcome, size == nil { size = written }
        let readiness: Readiness
        switch outcome {
        case .complete: readiness = .ready
        case .failed(let error): readiness = .failed(error)
        case .failedElsewhere: readiness = .retry
        }
        let waiting = sizeWaiters
        let growing = growthWaiters
        sizeWaiters = []
        growthWaiters = []
        waiting.forEach { $0(readiness) }
        growing.forEach { $0.wake(isComplete) }
        onEnd?()
        onEnd = nil
    }

    // MARK: Leading: this process downloads

    private var claim: DownloadClaim?
    private var fetch: RegistryFetch?
    private var exchange: UpstreamExchange?
    private var pipeline: DownloadPipeline?
    /// The hashing thread's state; the loop reads it once that thread has ended.
    private let hash = HashState()
    private var owner: UploadOwner?
    private var trace = DownloadTrace()
    /// Upstream body bytes, for the metrics.
    private(set) var upstreamBytes: Int64 = 0
    /// The fleet's nodes to ask before the upstream (`Fleet`), the next one's index, and the one asked now.
    private var peerRoute: PeerRoute?
    private var nextPeer = 0
    private var askingPeer: RegistryClient?
    /// The peer asked answered something else than the blob: its exchange is ended, the next source asked.
    private var skippingPeer = false
    private var repository = ""
    private var metrics: Metrics?

    /// A download that waits for its turn (`BlobDownloads`' bound): clients join it as any other, and hear of
    /// it once it is led or followed.
    static func waiting(_ digest: Digest, loop: EventLoop, store: RegistryStore) -> BlobDownload {
        BlobDownload(digest: digest, loop: loop, store: store)
    }

    /// Leads this download, holding `claim`: downloads `digest` from `repository` of `upstream` in this process;
    /// once verified, the blob is linked to `owner` (the repository or Kraken namespace that asked for it). With
    /// `peers`, the fleet's nodes are asked first, in order; one that cannot be reached, answers anything but 200
    /// or ends before the first byte is skipped, and the upstream is asked after the last. The upstream is not
    /// asked when the system will not give the download its threads: it fails at once, and its clients hear 503.
    func lead(claim: DownloadClaim, from upstream: RegistryClient, repository: String, linkTo owner: UploadOwner,
              metrics: Metrics, peers: PeerRoute? = nil) {
        self.claim = claim
        self.owner = owner
        self.upstream = upstream
        self.repository = repository
        self.metrics = metrics
        peerRoute = peers
        do {
            try startPipeline(writingTo: claim)
        } catch {
            return fail(.concealing(error, "starting the download of blob \(digest)", code: .unavailable))
        }
        fetchFromNextSource()
    }

    private func fetchFromNextSource() {
        askingPeer = peerRoute.flatMap { nextPeer < $0.nodes.count ? $0.nodes[nextPeer] : nil }
        if let askingPeer, let route = peerRoute {
            nextPeer += 1
            fetch = askingPeer.fetch("GET", route.path, headers: [(Fleet.peerHeader, "1")], handler: self)
        } else {
            fetch = upstream.fetch("GET", "/v2/\(repository)/blobs/\(digest)", handler: self)
        }
    }

    /// The peer asked failed before it sent a byte of the blob: the next source is asked once its exchange ended.
    private func skip(_ peer: RegistryClient, _ why: String) {
        Log.warn("mirror: \(peer.name) (\(peer.baseURL)) \(why) for \(digest): asking \(nextPeer < (peerRoute?.nodes.count ?? 0) ? "the next node" : "the upstream")")
        metrics?.mirrorPeerSkips += 1
        skippingPeer = true
    }

    /// Ends a download that waited for its turn and could not be started (its claim on disk).
    func abandon(_ error: Error) {
        fail(.concealing(error, "claiming the download of blob \(digest)", code: .unavailable))
    }

    /// Ends a download that waited for its turn while every client of it went away: it is not started.
    func drop() {
        fail(RegistryError(.unavailable, "nobody waits for blob \(digest) any more"))
    }

    // MARK: The upstream's events (the fetch holds the download until the response ends)

    func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        self.exchange = exchange
        if let peer = askingPeer, status != 200 {
            skip(peer, "answered \(status)")
            return exchange.cancel()
        }
        if askingPeer != nil { metrics?.mirrorPeerFetches += 1 }
        guard status == 200 else {
            // Failed first: cancelling ends the exchange at once, and that end must not be taken for the cause.
            fail(Mirror.registryError(status: status, from: upstream, what: "blob \(digest)", unknown: .blobUnknown))
            exchange.cancel()
            return
        }
        if let length = headers["Content-Length"].flatMap({ Int64($0) }) {
            claim?.announce(size: length)
            sized(length)
        }
    }

    func body(_ bytes: UnsafeRawBufferPointer) {
        guard outcome == nil else { return }
        upstreamBytes += Int64(bytes.count)
        trace.note(.read, bytes.count)
        if askingPeer != nil { metrics?.mirrorPeerBytes += Int64(bytes.count) } else { metrics?.mirrorUpstreamBytes += Int64(bytes.count) }
        if let size, upstreamBytes > size {
            fail(RegistryError(.upstreamBlobInvalid, "the upstream sent more than \(size) bytes for \(digest)"))
            exchange?.cancel()
            return
        }
        if let pipeline, !pipeline.append(bytes) {
            fail(RegistryError(.unavailable, "the upstream sent \(digest) faster than it was paused"))
            exchange?.cancel()
            return
        }
        if let pipeline, pipeline.room < DownloadPipeline.pauseRoom, exchange?.isPaused == false {
            trace.note(.pause, pipeline.waiting)
            exchange?.pause()
        }
    }

    /// The upstream is read straight into the download's ring buffer.
    func bodyDestination() -> UnsafeMutableRawBufferPointer? {
        outcome == nil ? pipeline?.freeSpace : nil
    }

    func end(error: UpstreamError?) {
        fetch = nil
        exchange = nil
        guard outcome == nil else { return }
        if let peer = askingPeer, !skippingPeer, upstreamBytes == 0, let error { skip(peer, "failed: \(error)") }
        if skippingPeer {
            skippingPeer = false
            return fetchFromNextSource()
        }
        if let error { return fail(Mirror.registryError(error, from: upstream, what: "blob \(digest)")) }
        pipeline?.finish()
    }

    /// Hashes and writes the body as it arrives, on the download's two threads.
    private func startPipeline(writingTo claim: DownloadClaim) throws {
        let hash = self.hash
        let pipeline = try DownloadPipeline(loop: loop, tracing: trace.isOn, steps: [
            { bytes, _ in hash.hasher.update(bytes) },
            { bytes, offset in try claim.write(bytes, at: offset) },
        ])
        pipeline.onProgress = { [unowned self] done in
            grew(to: done)
            if exchange?.isPaused == true, pipeline.room >= DownloadPipeline.resumeRoom {
                trace.note(.resume, pipeline.waiting)
                exchange?.resume()
            }
        }
        pipeline.onEnd = { [self] error in
            if trace.isOn { trace.note(pieces: pipeline.times) }
            self.pipeline = nil
            guard outcome == nil else { return abandonClaim() }
            if let error {
                fail(.concealing(error, "writing blob \(digest) to the cache", code: .unavailable))
                fetch?.cancel()
            } else {
                verify()
            }
        }
        self.pipeline = pipeline
    }

    private func verify() {
        guard let claim else { return }
        let computed = hash.hasher.digest
        if let size, written != size {
            return fail(RegistryError(.upstreamBlobInvalid, "the upstream sent \(written) of \(size) bytes for \(digest)"))
        }
        guard computed == digest else {
            return fail(RegistryError(.upstreamBlobInvalid, "the upstream sent content with digest \(computed) for \(digest)"))
        }
        let digest = self.digest
        let owner = self.owner
        loop.offload({ [store] () -> Error? in
            do {
                // Under the blob's lock, as an upload's commit: a sweep meanwhile sees it referenced.
                try store.storing(digest) {
                    try claim.commitBlob(digest)
                    switch owner {
                    case .repository(let name)?: try store.linkLayer(digest, in: name)
                    case .namespace(let namespace)?: try store.linkToNamespace(digest, namespace)
                    case nil: break
                    }
                }
                return nil
            } catch { return error }
        }, then: { [self] error in
            self.claim = nil
            if let error {
                claim.abandon()
                fail(.concealing(error, "storing blob \(digest)", code: .unavailable))
            } else {
                end(.complete)
            }
        })
    }

    private func fail(_ error: RegistryError) {
        guard outcome == nil else { return }
        Log.warn("mirror: download of \(digest) failed: \(error.cause ?? error.detail ?? error.message)")
        if let pipeline { pipeline.cancel() } else { abandonClaim() }
        end(.failed(error))
    }

    private func abandonClaim() {
        let claim = self.claim
        self.claim = nil
        claim?.abandon()
    }

    // MARK: Following: another process downloads

    private var followed: Int32 = -1
    private var poller: RepeatingTimer?

    /// Follows the download another process holds the claim of, by polling the disk every few milliseconds.
    func follow() {
        poller = loop.repeating(every: 5) { [weak self] in self?.poll() }
        poll()
    }

    private func poll() {
        guard outcome == nil else { return }
        if let committed = store.blobSize(digest) {
            stopFollowing()
            sized(committed)
            written = committed
            return end(.complete)
        }
        switch store.observeDownload(Self.key(digest)) {
        case .running(let announced):
            if let announced { sized(announced) }
            if followed < 0, let fd = store.openDownloadData(Self.key(digest)) { followed = fd }
            if followed >= 0 { grew(to: RegistryStore.currentSize(followed)) }
        case .idle:
            // The downloader commits before it lets go: idle and still no blob is a failed download.
            if let committed = store.blobSize(digest) {
                stopFollowing()
                sized(committed)
                written = committed
                return end(.complete)
            }
            stopFollowing()
            end(.failedElsewhere)
        }
    }

    private func stopFollowing() {
        poller?.stop()
        poller = nil
        if followed >= 0 { close(followed) }
        followed = -1
    }

    deinit {
        if followed >= 0 { close(followed) }
    }
}
