import BerthConfiguration

/// The configuration as `berth serve` reads it (BerthConfiguration): YAML from the input,
/// and `REGISTRY_`/`BERTH_` variables from its lines after a NUL. Loaded or refused with a message, never a
/// trap, and what loads keeps its numbers inside what the loop's timers and Int64 offsets hold.
extension FuzzTarget {
    static let configuration = FuzzTarget(name: "configuration") { bytes in
        let text = bytes.text
        let parts = text.split(separator: "\0", maxSplits: 1, omittingEmptySubsequences: false)
        var environment: [String: String] = [:]
        if parts.count > 1 {
            for line in parts[1].split(separator: "\n") {
                let pair = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2 else { continue }
                environment[(pair[0].hasPrefix("R") ? "REGISTRY_" : "BERTH_") + pair[0].dropFirst()] = String(pair[1])
            }
        }
        guard let (config, _) = try? Configuration.load(text: String(parts[0]), named: "fuzz.yml", environment: environment) else { return }
        for seconds in [config.gcInterval, config.gcDelay, config.uploadMaxAgeSeconds, config.proxyTTL, config.krakenFetchTimeout,
                        config.progressWindow] {
            require(seconds.isFinite && seconds >= 0 && seconds <= Configuration.longestDuration, "duration \(seconds) loaded")
        }
        require((config.proxyCacheMaxSize ?? 1) > 0, "cache size \(String(describing: config.proxyCacheMaxSize))")
        require((1...256).contains(config.workers), "workers \(config.workers)")
        _ = config.httpLimits
        _ = config.mirrorOptions
    }
}
