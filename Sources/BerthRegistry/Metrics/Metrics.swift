import BerthHTTP

/// Counters and latency histograms of this process, in Prometheus' text format. Loop-confined.
final class Metrics {
    /// Unchecked: changed only by `record`, which calls out to nothing that reaches this object (the run-time
    /// check was paid by every request).
    @exclusivity(unchecked) private var tally = RequestTally()
    /// Manifest pulls per path, for the UI's "most pulled".
    var pulls: PullCounts { tally.pulls }
    var gcRuns = 0
    /// The mirror's cache, by kind (`manifest`, `blob`).
    var mirrorHits: [String: Int] = [:]
    var mirrorMisses: [String: Int] = [:]
    var mirrorUpstreamBytes: Int64 = 0
    var mirrorStale = 0
    var mirrorRevalidations = 0
    var mirrorEvictions = 0
    var mirrorEvictedBytes: Int64 = 0
    /// The fleet (`cluster.peers`): blobs fetched from another node, nodes skipped on the way, body bytes so
    /// fetched, and other nodes' fetches this one answered.
    var mirrorPeerFetches = 0
    var mirrorPeerSkips = 0
    var mirrorPeerBytes: Int64 = 0
    var mirrorPeerServed = 0
    var gcReclaimedBytes: Int64 = 0
    /// Upstream connections opened through the egress proxy, over every upstream client of the process.
    var proxiedConnections: () -> Int = { 0 }
    /// Blob downloads from upstreams this process leads, and those waiting for a turn (`proxy.maxdownloads`).
    var downloads: () -> (led: Int, waiting: Int) = { (0, 0) }
    /// auth.htpasswd: bcrypt runs (a cached login costs none), answers 429, and failed logins by client address
    /// (at most `maxFailureAddresses` addresses by name; the rest counted as `other`).
    var authBcryptVerifications = 0
    var authThrottled = 0
    private var authFailures: [String: Int] = [:]
    /// auth.token: tokens whose signature and claims were checked and accepted (once per token and worker, then
    /// cached) or refused, and requests whose valid token did not grant the route's access.
    var authTokensAccepted = 0
    var authTokensRejected = 0
    var authAccessDenied = 0
    static let maxFailureAddresses = 1024

    func countLoginFailure(_ client: String) {
        let key = authFailures[client] != nil || authFailures.count < Self.maxFailureAddresses ? client : "other"
        authFailures[key, default: 0] += 1
    }

    func record(_ exchange: HTTPExchange) {
        tally.record(method: exchange.request.method, route: exchange.label, status: exchange.status, path: exchange.request.path,
                     received: exchange.bytesReceived, sent: exchange.bytesSent, tlsFallbackBody: exchange.tlsFallbackBodyBytes,
                     seconds: exchange.elapsedSeconds)
    }

    func exposition(openConnections: Int) -> String {
        let tally = tally
        var text = ""
        func family(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("berth_http_requests_total", "counter", "Requests answered, by method, route and status.")
        let requests = zip(tally.requestKeys, tally.requestCounts).map { (key: $0, value: $1) }
        // The order of the text the key's description gave when the method was its name: name, route, status as text.
        func order(_ key: RequestTally.RequestKey) -> (String, String, String) { (key.method.name, key.route, String(key.status)) }
        for (key, count) in requests.sorted(by: { order($0.key) < order($1.key) }) {
            text += "berth_http_requests_total{method=\"\(key.method.name)\",route=\"\(key.route)\",status=\"\(key.status)\"} \(count)\n"
        }
        let scalars: [(name: String, type: String, help: String, value: Int64)] = [
            ("berth_http_received_bytes_total", "counter", "Request body bytes received.", tally.bytesReceived),
            ("berth_http_sent_bytes_total", "counter", "Response body bytes sent.", tally.bytesSent),
            ("berth_blob_uploads_total", "counter", "Blobs committed by uploads.", Int64(tally.blobUploads)),
            ("berth_blob_pulls_total", "counter", "Blob downloads (GET 200 and 206).", Int64(tally.blobPulls)),
            ("berth_manifest_pushes_total", "counter", "Manifests stored.", Int64(tally.manifestPushes)),
            ("berth_manifest_pulls_total", "counter", "Manifest downloads.", Int64(tally.manifestPulls)),
            ("berth_open_connections", "gauge", "Client connections open in this process.", Int64(openConnections)),
            ("berth_gc_runs_total", "counter", "Garbage collection sweeps.", Int64(gcRuns)),
            ("berth_gc_reclaimed_bytes_total", "counter", "Bytes removed by garbage collection.", gcReclaimedBytes),
            ("berth_mirror_upstream_bytes_total", "counter", "Body bytes fetched from upstream registries.", mirrorUpstreamBytes),
            ("berth_mirror_stale_total", "counter", "Cached manifests served because the upstream failed.", Int64(mirrorStale)),
            ("berth_mirror_revalidations_total", "counter", "Cached tags the upstream confirmed unchanged.", Int64(mirrorRevalidations)),
            ("berth_mirror_evictions_total", "counter", "Blobs evicted from the mirror's cache.", Int64(mirrorEvictions)),
            ("berth_mirror_evicted_bytes_total", "counter", "Bytes evicted from the mirror's cache.", mirrorEvictedBytes),
            ("berth_mirror_peer_fetches_total", "counter", "Blob downloads fetched from another node of the fleet (cluster.peers).", Int64(mirrorPeerFetches)),
            ("berth_mirror_peer_skips_total", "counter", "Nodes of the fleet skipped by a download: unreachable or not answering 200.", Int64(mirrorPeerSkips)),
            ("berth_mirror_peer_bytes_total", "counter", "Body bytes fetched from other nodes of the fleet.", mirrorPeerBytes),
            ("berth_mirror_peer_served_total", "counter", "Blob requests of other nodes of the fleet answered here.", Int64(mirrorPeerServed)),
            ("berth_mirror_downloads_led", "gauge", "Blob downloads from upstreams led by this process now.", Int64(downloads().led)),
            ("berth_mirror_downloads_waiting", "gauge", "Blob downloads waiting for a turn (proxy.maxdownloads).", Int64(downloads().waiting)),
            ("berth_upstream_proxied_connections_total", "counter", "Upstream connections opened through the egress proxy.", Int64(proxiedConnections())),
            ("berth_auth_bcrypt_verifications_total", "counter", "Passwords checked with bcrypt (auth.htpasswd).", Int64(authBcryptVerifications)),
            ("berth_auth_throttled_total", "counter", "Logins answered 429 (too many failures from the address).", Int64(authThrottled)),
            ("berth_auth_tokens_accepted_total", "counter", "Bearer tokens verified and accepted (auth.token; once per token, then cached).", Int64(authTokensAccepted)),
            ("berth_auth_tokens_rejected_total", "counter", "Bearer tokens refused: signature, key, issuer, audience or time (auth.token).", Int64(authTokensRejected)),
            ("berth_auth_access_denied_total", "counter", "Requests whose valid token does not grant the route's access (auth.token).", Int64(authAccessDenied)),
        ]
        for scalar in scalars {
            family(scalar.name, scalar.type, scalar.help)
            text += "\(scalar.name) \(scalar.value)\n"
        }
        for (name, help, counts) in [("berth_mirror_cache_hits_total", "Mirror requests answered from the cache, by kind.", mirrorHits),
                                     ("berth_mirror_cache_misses_total", "Mirror requests that went to the upstream, by kind.", mirrorMisses)] {
            family(name, "counter", help)
            for kind in ["blob", "manifest"] { text += "\(name){kind=\"\(kind)\"} \(counts[kind] ?? 0)\n" }
        }
        family("berth_tls_body_bytes_total", "counter", "File body bytes sent over TLS, by path (ktls: sendfile; fallback: read + SSL_write).")
        text += "berth_tls_body_bytes_total{path=\"ktls\"} 0\nberth_tls_body_bytes_total{path=\"fallback\"} \(tally.tlsFallbackBodyBytes)\n"
        family("berth_auth_failures_total", "counter", "Failed logins (auth.htpasswd), by client address.")
        for (client, count) in authFailures.sorted(by: { $0.key < $1.key }) {
            text += "berth_auth_failures_total{client=\"\(client)\"} \(count)\n"
        }
        family("berth_http_request_duration_seconds", "histogram", "Time from request head to answer, by route.")
        for (route, histogram) in zip(tally.latencyRoutes, tally.latency).sorted(by: { $0.0 < $1.0 }) {
            for (bound, count) in zip(RequestTally.latencyBuckets, histogram.buckets) {
                text += "berth_http_request_duration_seconds_bucket{route=\"\(route)\",le=\"\(bound)\"} \(count)\n"
            }
            text += "berth_http_request_duration_seconds_bucket{route=\"\(route)\",le=\"+Inf\"} \(histogram.count)\n"
            text += "berth_http_request_duration_seconds_sum{route=\"\(route)\"} \(histogram.sum)\n"
            text += "berth_http_request_duration_seconds_count{route=\"\(route)\"} \(histogram.count)\n"
        }
        return text
    }
}
