import BerthHTTP
import BerthStorage
import Glibc

/// Timestamps of one led download's buffers, to see where its wall time goes (issue 19): kept only when
/// `BERTH_DOWNLOAD_TRACE` names a directory, and written there as `<digest>.trace` once the download ends,
/// one event a line (`<ns since the first> <event> <bytes>`); bench/mirrorbench/trace.py reads them.
/// Loop-confined (the download threads' times reach it once they ended).
struct DownloadTrace {
    enum Event: String {
        /// Body bytes the upstream connection delivered (one read, or one TLS record's worth).
        case read
        case pause
        case resume
        /// One piece of the hashing thread's and of the writing thread's (`DownloadThread`).
        case hashStart, hashEnd, writeStart, writeEnd
        /// Followers woken by the threads' progress (the bytes: how many followers).
        case woken
        case verified, failed
    }

    static let directory: String? = getenv("BERTH_DOWNLOAD_TRACE").map { String(cString: $0) }

    private var events: [(at: UInt64, event: Event, bytes: Int64)] = []
    let isOn: Bool

    init() {
        isOn = Self.directory != nil
        if isOn { events.reserveCapacity(1 << 16) }
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    mutating func note(_ event: Event, _ bytes: Int = 0, at time: UInt64 = 0) {
        guard isOn else { return }
        events.append((time == 0 ? Self.now() : time, event, Int64(bytes)))
    }

    /// The pieces of the hashing thread, then of the writing one.
    mutating func note(pieces: [[(start: UInt64, end: UInt64, bytes: Int)]]) {
        for (index, thread) in pieces.enumerated() {
            for piece in thread {
                note(index == 0 ? .hashStart : .writeStart, piece.bytes, at: piece.start)
                note(index == 0 ? .hashEnd : .writeEnd, piece.bytes, at: piece.end)
            }
        }
    }

    /// Writes the events (sorted: the threads' come in once they ended) to the directory.
    func save(_ digest: Digest) {
        guard let directory = Self.directory, let first = events.map(\.at).min() else { return }
        var text = ""
        for e in events.sorted(by: { $0.at < $1.at }) {
            text += "\(e.at - first) \(e.event.rawValue) \(e.bytes)\n"
        }
        let path = directory + "/" + digest.encoded + ".trace"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return Log.warn("mirror: cannot write the download trace \(path)") }
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
