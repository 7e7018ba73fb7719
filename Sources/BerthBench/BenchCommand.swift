import ArgumentParser
import BerthUpstream
import Foundation

/// `berth bench [scenario...] URL`: drives a registry from one libuv loop and reports what it measured.
public struct BenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark a registry: pulls, HEADs, pushes and listings from one loop, with latency percentiles.",
        discussion: """
            Scenarios: \(ScenarioCatalog.names.joined(separator: ", ")) (default: manifest-get). Each one first \
            pushes what it needs (a synthetic image under --repo:--tag whose bytes depend only on --seed; \
            --no-seed skips this for a server that already has them), then runs its load on --concurrency \
            kept-alive connections for --duration or --requests operations. An operation is one request, or \
            POST and PUT for push-monolithic, POST, PATCHes and PUT for push-chunked and push-streamed; for pull-image one request, and --requests \
            counts whole images, each timed apart too; for push-image the whole image (HEAD, upload of each \
            blob it lacks, manifest PUT); replay plays the whole --trace (not cut by --duration or --requests); mirror-cold runs --rounds rounds of --concurrency clients at once, each \
            round a --size blob pushed to --upstream first and new to the mirror; \
            latency is per operation that succeeded. Exit status: 0 no \
            errors, 1 some request failed (wrong status, --verify digest mismatch, connection, timeout), 2 usage.
            """)

    public enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json, csv
    }

    @Argument(help: "Scenario names, then the registry's base URL (http://host:port or https://host:port).")
    var arguments: [String]

    @Option(help: "Connections, each running one operation at a time.")
    var concurrency = 16

    @Option(help: "How long each scenario's load runs: 10, 10s, 500ms, 2m (default 10s).")
    var duration: String?

    @Option(help: "Operations per scenario, instead of --duration.")
    var requests: Int?

    @Option(help: "A connect or request unanswered this long fails (counted as timeout): 30s, 500ms.")
    var timeout = "30s"

    @Option(help: "Repository the scenarios push to and read from.")
    var repo = "bench"

    @Option(help: "Tag of the seeded image.")
    var tag = "latest"

    @Option(help: "Seed of all synthetic content: the same seed gives the same bytes and digests.")
    var seed: UInt64 = 1

    @Option(help: "Blob size for blob-get (the seeded layer) and push-monolithic: 4096, 512k, 1M, 1GiB.")
    var size = "1M"

    @Option(help: "push-chunked: bytes per PATCH (the last one takes what is left of --size).")
    var chunkSize = "256k"

    @Option(help: "pull-image, push-image: layers of the image.")
    var layers = 3

    @Option(help: "pull-image, push-image: bytes of each layer.")
    var layerSize = "1M"

    @Option(help: "push-image: how a blob the registry lacks is uploaded: streamed (skopeo's POST, PATCH, PUT), monolithic, chunked (--chunk-size).")
    var upload = ImageUpload.streamed

    @Option(help: "mix: scenarios and their weights, name:weight,... (pull = blob-get, push = push-monolithic, delete = delete-manifest, head = manifest-head).")
    var mix = MixScenario.defaultWeights

    @Option(help: "blob-get: only bytes a-b (inclusive), answered 206.")
    var range: String?

    @Flag(help: "manifest-get/-head: by digest instead of by tag.")
    var byDigest = false

    @Flag(help: "Check the digest of every pulled manifest and blob; a wrong byte counts as an error.")
    var verify = false

    @Flag(name: .customLong("no-seed"), help: "Do not push the synthetic image first.")
    var noSeed = false

    @Option(help: "Credentials, name:password: sent as Basic, or to the token realm when the registry challenges with Bearer.")
    var user: String?

    @Option(help: "https://: trust the CAs of this PEM file instead of the system's.")
    var cacert: String?

    @Flag(help: "https://: do not check the certificate (nor its name).")
    var insecure = false

    @Option(help: "Run the same scenarios against this registry too, after the first, and show both with ratios (B/A).")
    var compare: String?

    @Option(help: "mirror-cold: the mirror's upstream, where each round's blob is pushed first and its fetches counted (its /metrics if it is Berth).")
    var upstream: String?

    @Option(help: "mirror-cold: the upstream's access log (Apache combined format): its GETs of each round's blob are counted there.")
    var upstreamLog: String?

    @Flag(help: "mirror-cold: each client pulls a whole image (manifest by tag, config, --layers layers of --layer-size) instead of one --size blob.")
    var image = false

    @Option(help: "mirror-cold: rounds, each with a blob the mirror has not cached, asked for by --concurrency clients at once.")
    var rounds = 3

    @Option(help: "replay: the trace, JSON lines of {timestamp, method, uri, size} or the IBM registry traces' records (FAST '18).")
    var trace: String?

    @Option(help: "replay: pace relative to the recorded one (2: twice as fast).")
    var speed = 1.0

    @Option(help: "Also write an SVG chart to this file: each scenario's latency by percentile and its throughput over time.")
    var svg: String?

    @Option(help: "text, json, or csv (a header line and one line per scenario).")
    var output: OutputFormat = .text

    public init() {}

    public func validate() throws {
        _ = try settings()
    }

    /// The options checked and made into what a run needs.
    public func settings() throws -> BenchSettings {
        var words = arguments
        guard let url = words.popLast(), let target = BenchTarget(url: url) else {
            throw ValidationError(arguments.last.map { "\($0) is not an http(s)://host:port URL" } ?? "missing the registry URL")
        }
        if let unknown = words.first(where: { !ScenarioCatalog.names.contains($0) }) {
            throw ValidationError("unknown scenario \(unknown); known: \(ScenarioCatalog.names.joined(separator: ", "))")
        }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        let stop: StopCondition
        switch (duration, requests) {
        case (.some, .some): throw ValidationError("--duration and --requests exclude each other")
        case (_, .some(let count)):
            guard count >= 1 else { throw ValidationError("--requests must be at least 1") }
            stop = .operations(count)
        case (let text, nil):
            guard let milliseconds = ByteSize.milliseconds(text ?? "10s") else { throw ValidationError("--duration \(text ?? ""): not a duration") }
            stop = .duration(milliseconds: milliseconds)
        }
        guard let timeoutMilliseconds = ByteSize.milliseconds(timeout) else { throw ValidationError("--timeout \(timeout): not a duration") }
        guard let bytes = ByteSize.parse(size), bytes >= 1 else { throw ValidationError("--size \(size): not a size") }
        guard let chunkBytes = ByteSize.parse(chunkSize), chunkBytes >= 1 else { throw ValidationError("--chunk-size \(chunkSize): not a size") }
        guard let layerBytes = ByteSize.parse(layerSize), layerBytes >= 1 else { throw ValidationError("--layer-size \(layerSize): not a size") }
        guard (1...1000).contains(layers) else { throw ValidationError("--layers must be 1 to 1000") }
        var byteRange: ClosedRange<Int>?
        if let range {
            let parts = range.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let first = Int(parts[0]), let last = Int(parts[1]), first >= 0, first <= last, last < bytes else {
                throw ValidationError("--range \(range): not a-b within --size")
            }
            byteRange = first...last
        }
        var authorization: String?
        if let user {
            guard user.contains(":") else { throw ValidationError("--user must be name:password") }
            authorization = "Basic " + Data(user.utf8).base64EncodedString()
        }
        var second: BenchTarget?
        if let compare {
            guard let target = BenchTarget(url: compare) else { throw ValidationError("--compare \(compare) is not an http(s)://host:port URL") }
            second = target
        }
        var upstreamTarget: BenchTarget?
        if let upstream {
            guard let target = BenchTarget(url: upstream) else { throw ValidationError("--upstream \(upstream) is not an http(s)://host:port URL") }
            upstreamTarget = target
        }
        if words.contains("mirror-cold"), upstreamTarget == nil { throw ValidationError("mirror-cold needs --upstream URL (the mirror's upstream)") }
        if case .failure(let error) = MixScenario.parse(mix, known: ScenarioCatalog.mixable) { throw ValidationError("--mix \(mix): \(error.text)") }
        var records: [TraceRecord] = []
        if words.contains("replay") {
            guard let trace else { throw ValidationError("replay needs --trace FILE") }
            guard let text = UpstreamFetchCounter.read(trace) else { throw ValidationError("--trace \(trace): cannot read it") }
            do { records = try TraceRecord.parse(text) } catch { throw ValidationError("--trace \(trace): \(error)") }
            let bytes = ReplayScenario.contentBytes(records)
            guard bytes <= ReplayScenario.contentLimit else { throw ValidationError("--trace \(trace): \(ReplayScenario.TooLarge(bytes: bytes))") }
            guard speed > 0 else { throw ValidationError("--speed must be more than 0") }
        }
        guard (1...1000).contains(rounds) else { throw ValidationError("--rounds must be 1 to 1000") }
        if let cacert, access(cacert, R_OK) != 0 { throw ValidationError("--cacert \(cacert): cannot read it") }
        guard RepositoryPath.isValid(repo) else { throw ValidationError("--repo \(repo): not a repository name") }
        return BenchSettings(target: target, scenarios: words.isEmpty ? ["manifest-get"] : words, concurrency: concurrency, stop: stop,
                             repository: repo, tag: tag, seed: seed, size: bytes, range: byteRange, byDigest: byDigest,
                             verify: verify, seedRegistry: !noSeed, authorization: authorization, output: output,
                             timeoutMilliseconds: timeoutMilliseconds, user: user,
                             caFile: cacert, insecure: insecure, chunkSize: chunkBytes, layers: layers, layerSize: layerBytes, compare: second,
                             upstream: upstreamTarget, upstreamLog: upstreamLog, rounds: rounds, coldImage: image, upload: upload, mix: mix, trace: records, speed: speed, svg: svg)
    }

    public func run() throws {
        let settings = try settings()
        let reports: [ScenarioReport]
        var compared: (CompareReport, BenchSettings)?
        do {
            reports = try BenchRunner(settings).run()
            if let target = settings.compare {
                var second = settings
                second.target = target
                compared = (CompareReport(first: reports, second: try BenchRunner(second).run()), second)
            }
        } catch {
            FileHandle.standardError.write(Data("berth bench: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if let path = settings.svg {
            var runs = [(label: settings.target.url, reports: reports)]
            if let (comparison, second) = compared { runs.append((second.target.url, comparison.second)) }
            guard FileManager.default.createFile(atPath: path, contents: Data(BenchChart.svg(runs).utf8)) else {
                FileHandle.standardError.write(Data("berth bench: cannot write \(path)\n".utf8))
                throw ExitCode(1)
            }
        }
        if let (comparison, second) = compared {
            let text: String
            switch settings.output {
            case .text: text = comparison.text(settings, second: second.target)
            case .json: text = comparison.json(settings, second: second)
            case .csv: text = comparison.csv()
            }
            FileHandle.standardOutput.write(Data(text.utf8))
            if (comparison.first + comparison.second).contains(where: { $0.result.errorCount > 0 }) { throw ExitCode(1) }
            return
        }
        let text: String
        switch settings.output {
        case .text: text = ScenarioReport.text(reports, settings: settings)
        case .json: text = ScenarioReport.json(reports, settings: settings)
        case .csv: text = ScenarioReport.csv(reports)
        }
        FileHandle.standardOutput.write(Data(text.utf8))
        if reports.contains(where: { $0.result.errorCount > 0 }) { throw ExitCode(1) }
    }
}

/// Everything a run needs, checked.
public struct BenchSettings: Equatable {
    public var target: BenchTarget
    public var scenarios: [String]
    public var concurrency: Int
    public var stop: StopCondition
    public var repository: String
    public var tag: String
    public var seed: UInt64
    public var size: Int
    public var range: ClosedRange<Int>?
    public var byDigest: Bool
    public var verify: Bool
    public var seedRegistry: Bool
    public var authorization: String?
    public var output: BenchCommand.OutputFormat
    public var timeoutMilliseconds: UInt64
    /// `name:password` as given, for the token realm.
    public var user: String?
    public var caFile: String?
    public var insecure: Bool
    public var chunkSize: Int
    public var layers: Int
    public var layerSize: Int
    /// `--compare`: the second registry.
    public var compare: BenchTarget?
    /// mirror-cold: the mirror's upstream, its access log, the cold rounds.
    public var upstream: BenchTarget?
    public var upstreamLog: String?
    public var rounds = 3
    public var coldImage = false
    public var upload = ImageUpload.streamed
    public var mix = MixScenario.defaultWeights
    public var trace: [TraceRecord] = []
    public var speed = 1.0
    /// `--svg`: the chart's file.
    public var svg: String?

    public var tls: UpstreamTLSConfiguration { UpstreamTLSConfiguration(verifyCertificates: !insecure, caFile: caFile) }

    /// `bearer`: the registry challenges with Bearer, so requests carry tokens instead of Basic credentials.
    public func context(bearer: Bool = false) -> ScenarioContext {
        var context = ScenarioContext(repository: repository, tag: tag, seed: seed, size: size, range: range, byDigest: byDigest, verify: verify,
                                      seedRegistry: seedRegistry, heads: RequestHead(host: target.authority, authorization: bearer ? nil : authorization))
        context.chunkSize = chunkSize
        context.layers = layers
        context.layerSize = layerSize
        context.concurrency = concurrency
        context.upload = upload
        context.mix = mix
        context.trace = trace
        context.speed = speed
        if case .operations(let count) = stop { context.images = count }
        return context
    }
}

/// Repository names of the OCI distribution spec: lowercase path components joined by `/`.
enum RepositoryPath {
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { component in
            !component.isEmpty && component.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d }
        }
    }
}
