import BerthHTTP

/// What `Metrics` counts for every request, in one value: a request updates it in one mutating call, so the
/// loop pays one dynamic exclusivity check for it instead of one per counter (Metrics is a class; each stored
/// property it modifies costs a `swift_beginAccess`, ~100 instructions). Counters and histograms are found by
/// slot: the slot used last first (a kept-alive client asks for the same route again), then the few there
/// are. Route labels and method names are short literals, so comparing them compares words; hashing them into
/// dictionaries cost about 2,400 instructions a request (bench/instructions.py, session 9). The method is the
/// parsed enum, compared before any String, and a request counts in the one latency bucket it falls in: the
/// cumulative counts Prometheus wants are summed when the text is made, not on every request (14 increments,
/// each through two arrays' uniqueness checks).
struct RequestTally {
    struct RequestKey {
        let method: HTTPMethod
        let route: String
        let status: Int
    }

    struct Histogram {
        /// Requests whose time is within each bound and above the one before (the last: above every bound).
        fileprivate(set) var counts = [Int](repeating: 0, count: RequestTally.latencyBuckets.count + 1)
        var sum = 0.0
        var count = 0

        /// Prometheus' `_bucket` values: requests within each bound of `latencyBuckets`.
        var buckets: [Int] {
            var total = 0
            return counts.dropLast().map { total += $0; return total }
        }
    }

    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private(set) var requestKeys: [RequestKey] = []
    private(set) var requestCounts: [Int] = []
    private var lastRequestSlot = 0
    private(set) var latencyRoutes: [String] = []
    private(set) var latency: [Histogram] = []
    private var lastLatencySlot = 0
    private(set) var bytesReceived: Int64 = 0
    private(set) var bytesSent: Int64 = 0
    /// File body bytes sent over TLS by read + SSL_write; kernel TLS (sendfile) would be the other path.
    private(set) var tlsFallbackBodyBytes: Int64 = 0
    private(set) var blobUploads = 0
    private(set) var blobPulls = 0
    private(set) var manifestPushes = 0
    private(set) var manifestPulls = 0
    /// Manifest pulls per path, for the UI's "most pulled".
    private(set) var pulls = PullCounts()

    mutating func record(method: HTTPMethod, route: String, status: Int, path: Substring, received: Int64, sent: Int64,
                         tlsFallbackBody: Int64, seconds: Double) {
        requestCounts[requestSlot(method: method, route: route, status: status)] += 1
        bytesReceived += received
        bytesSent += sent
        tlsFallbackBodyBytes += tlsFallbackBody
        let slot = latencySlot(route: route)
        latency[slot].counts[Self.bucket(of: seconds)] += 1
        latency[slot].sum += seconds
        latency[slot].count += 1
        switch (method, status) {
        case (.post, 201) where route == "uploads", (.put, 201) where route == "upload": blobUploads += 1
        case (.get, 200) where route == "blob", (.get, 206) where route == "blob": blobPulls += 1
        case (.put, 201) where route == "manifest": manifestPushes += 1
        case (.get, 200) where route == "manifest":
            manifestPulls += 1
            pulls.count(path)
        default: break
        }
    }

    /// The index in `Histogram.counts` of a request that took `seconds`: nearly every request is in the first few.
    static func bucket(of seconds: Double) -> Int {
        var index = 0
        while index < latencyBuckets.count, seconds > latencyBuckets[index] { index += 1 }
        return index
    }

    private mutating func requestSlot(method: HTTPMethod, route: String, status: Int) -> Int {
        if lastRequestSlot < requestKeys.count, Self.matches(requestKeys[lastRequestSlot], method, route, status) { return lastRequestSlot }
        for slot in requestKeys.indices where Self.matches(requestKeys[slot], method, route, status) {
            lastRequestSlot = slot
            return slot
        }
        requestKeys.append(RequestKey(method: method, route: route, status: status))
        requestCounts.append(0)
        lastRequestSlot = requestKeys.count - 1
        return lastRequestSlot
    }

    private static func matches(_ key: RequestKey, _ method: HTTPMethod, _ route: String, _ status: Int) -> Bool {
        key.status == status && key.route == route && key.method == method
    }

    private mutating func latencySlot(route: String) -> Int {
        if lastLatencySlot < latencyRoutes.count, latencyRoutes[lastLatencySlot] == route { return lastLatencySlot }
        if let slot = latencyRoutes.firstIndex(of: route) {
            lastLatencySlot = slot
            return slot
        }
        latencyRoutes.append(route)
        latency.append(Histogram())
        lastLatencySlot = latencyRoutes.count - 1
        return lastLatencySlot
    }
}
