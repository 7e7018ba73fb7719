import BerthHTTP
import BerthRegistry
import BerthStorage
import Glibc

extension RegistryUI {
    /// Samples the summed metrics once a minute for the overview's hour of history (the other workers'
    /// snapshots are read and merged on the pool).
    public func startHistory() -> RepeatingTimer {
        sampleMetrics()
        return loop.repeating(every: 60_000) { [weak self] in self?.sampleMetrics() }
    }

    private func sampleMetrics() {
        let own = registry.ownMetrics(), others = registry.otherWorkersMetrics
        loop.offload({ MetricsSample(exposition: Registry.mergedMetrics([own] + others())) }, then: { [self] sample in
            note(sample)
            history.record(minute: time(nil) / 60, totals: .init(requests: sample.sum("berth_http_requests_total"), sentBytes: sample["berth_http_sent_bytes_total"]))
        })
    }

    /// Keeps the time a GC sweep was last seen (its counter grew), from any sample.
    private func note(_ sample: MetricsSample) {
        let runs = sample["berth_gc_runs_total"]
        if runs > lastGCSeen.runs { lastGCSeen = (runs, time(nil)) }
    }

    /// The store's totals (a walk on the pool, at most every 30 s), the traffic and the mirror's figures from
    /// `/metrics`' sums, and the charts of the last hour.
    func overviewPage(_ exchange: HTTPExchange) {
        let context = baseContext(exchange, title: "Overview")
        registry.repositoryNames { [self] names in
            let due = census.map { time(nil) - $0.takenAt >= Int(StoreCensus.maxAgeMilliseconds / 1000) } ?? true
            let store = registry.storage
            let mirror = registry.isMirror
            let takeCensus: () -> StoreCensus? = due ? { StoreCensus.take(store: store, repositories: names, mirror: mirror) } : { nil }
            let own = registry.ownMetrics(), others = registry.otherWorkersMetrics, pulls = registry.pullCounts()
            loop.offload({ (takeCensus(), MetricsSample(exposition: Registry.mergedMetrics([own] + others())),
                            Registry.mostPulled([pulls.own] + pulls.others()).prefix(Self.mostPulledShown)) }, then: { [self] census, sample, mostPulled in
                if let census { self.census = census }
                note(sample)
                overviewRender(exchange, context, sample, Array(mostPulled))
            })
        }
    }

    static let mostPulledShown = 10

    private func overviewRender(_ exchange: HTTPExchange, _ base: PageFields, _ sample: MetricsSample, _ mostPulled: [(reference: String, count: Int)]) {
        var context = base
        context["mostPulled"] = .list(mostPulled.map { ["reference": .text($0.reference), "count": .number($0.count)] })
        context["hasMostPulled"] = .flag(!mostPulled.isEmpty)
        let census = self.census ?? StoreCensus()
        context["diskUsed"] = .text(ByteCount.text(census.blobBytes))
        context["blobs"] = .number(census.blobs)
        context["repositories"] = .number(census.repositories)
        context["uploads"] = .number(census.uploads)
        context["censusTaken"] = .text(TimeText.utc(census.takenAt))
        context["gcRuns"] = .number(Int(sample["berth_gc_runs_total"]))
        context["gcReclaimed"] = .text(ByteCount.text(Int64(sample["berth_gc_reclaimed_bytes_total"])))
        if let seen = lastGCSeen.seconds { context["lastGC"] = .text(TimeText.utc(seen)) }
        let uiRoutes = ["route=\"ui_page\"", "route=\"ui_asset\""]
        context["registryRequests"] = .number(Int(sample.sum("berth_http_requests_total", excluding: uiRoutes)))
        context["uiRequests"] = .number(Int(sample.sum("berth_http_requests_total", matching: ["route=\"ui_page\""]) + sample.sum("berth_http_requests_total", matching: ["route=\"ui_asset\""])))
        context["sentBytes"] = .text(ByteCount.text(Int64(sample["berth_http_sent_bytes_total"])))
        context["receivedBytes"] = .text(ByteCount.text(Int64(sample["berth_http_received_bytes_total"])))
        context["manifestPulls"] = .number(Int(sample["berth_manifest_pulls_total"]))
        context["blobPulls"] = .number(Int(sample["berth_blob_pulls_total"]))
        let chart = SVGChart(width: 480, height: 120)
        context["requestsChart"] = .text(chart.svg(history.minutes.map(\.requests), title: "requests per minute") { "\(Int($0.rounded())) / min" })
        context["bytesChart"] = .text(chart.svg(history.minutes.map(\.sentBytes), title: "bytes sent per minute") { ByteCount.text(Int64($0)) + " / min" })
        if registry.isMirror {
            context["upstreams"] = .list(registry.upstreamStatuses.map { status -> PageValue in
                var row: PageFields = ["host": .text(status.host), "lastFailure": .text(status.health.lastFailure.map { "\(TimeText.utc($0.seconds)): \($0.reason)" } ?? "–")]
                switch status.health.state {
                case .unchecked: row["state"] = "unchecked"
                case .answering: row["state"] = "answering"
                case .failing(let reason): row["state"] = "failing"; row["reason"] = .text(reason)
                }
                return .fields(row)
            })
            context["manifestHits"] = .number(Int(sample["berth_mirror_cache_hits_total{kind=\"manifest\"}"]))
            context["blobHits"] = .number(Int(sample["berth_mirror_cache_hits_total{kind=\"blob\"}"]))
            context["manifestMisses"] = .number(Int(sample["berth_mirror_cache_misses_total{kind=\"manifest\"}"]))
            context["blobMisses"] = .number(Int(sample["berth_mirror_cache_misses_total{kind=\"blob\"}"]))
            context["stale"] = .number(Int(sample["berth_mirror_stale_total"]))
            context["revalidations"] = .number(Int(sample["berth_mirror_revalidations_total"]))
            context["upstreamBytes"] = .text(ByteCount.text(Int64(sample["berth_mirror_upstream_bytes_total"])))
            context["evictions"] = .number(Int(sample["berth_mirror_evictions_total"]))
            context["evictedBytes"] = .text(ByteCount.text(Int64(sample["berth_mirror_evicted_bytes_total"])))
            func rows(_ images: [StoreCensus.CachedImage]) -> PageValue {
                .list(images.map { ["reference": .text($0.reference), "size": .text(ByteCount.text($0.bytes)),
                                    "lastPull": .text($0.lastPull.map { TimeText.utc(Int($0)) } ?? "–")] })
            }
            context["largest"] = rows(census.largest)
            context["recentlyPulled"] = rows(census.recentlyPulled)
            context["hasImages"] = .flag(!census.largest.isEmpty)
            context["evictNext"] = .list(census.evictNext.map { ["digest": .text($0.digest), "shortDigest": .text(Self.short($0.digest)), "size": .text(ByteCount.text($0.bytes))] })
            context["hasEvictNext"] = .flag(!census.evictNext.isEmpty)
        }
        render(exchange, "overview") { context }
    }
}
