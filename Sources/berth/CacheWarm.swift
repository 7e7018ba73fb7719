import ArgumentParser
import BerthConfiguration
import BerthHTTP
import BerthUpstream
import Foundation

/// `berth cache warm`: `CacheWarmer` for each image in turn, against the running mirror.
struct CacheWarm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Pull images through the running mirror so that its cache holds them.",
        discussion: """
            IMAGE is an image reference as clients write it: [registry-host[:port]/]repository[:tag|@digest] \
            (tag latest when none). A registry host chooses the mirrors: upstream (as containerd's ns= does), \
            none the default one. The mirror is asked at --url, else at the configuration's http.addr; it \
            fetches what it lacks from the upstream, verifies and stores it as for any pull. Every platform of \
            an index is warmed, or only those given with --platform.

            Exit status: 0 everything fetched, 1 something failed (each failure is printed), 2 usage error.
            """)

    @Option(name: .long, help: "YAML configuration file (for http.addr).")
    var config: String?

    @Option(name: .long, help: "The mirror's base URL (default: http://<http.addr>).")
    var url: String?

    @Option(name: .long, help: "os/architecture[/variant]; repeat for several (default: every platform).")
    var platform: [String] = []

    @Argument(help: "The images to warm.")
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one IMAGE") }
        guard images.count <= 10_000 else { throw ValidationError("at most 10000 images at once") }
        for image in images { _ = try WarmReference(image) }
        for text in platform { _ = try WarmPlatform(text) }
        if let url, UpstreamURL(url) == nil { throw ValidationError("--url \(quoted(url)): expected http://host:port or https://host:port") }
    }

    func run() throws {
        let references = try images.map(WarmReference.init)
        let platforms = try platform.map(WarmPlatform.init)
        guard let base = UpstreamURL(try mirrorURL()) else { throw ValidationError("the mirror's URL is not http(s)://host:port") }
        let loop = EventLoop()
        var configuration = UpstreamClient.Configuration()
        configuration.userAgent = "berth-cache-warm/\(Berth.version)"
        // A miss streams a whole layer from the upstream first; the mirror sends bytes as they arrive.
        configuration.readTimeoutMilliseconds = 300_000
        let client: UpstreamClient
        do { client = try UpstreamClient(loop: loop, configuration: configuration) } catch {
            throw Berth.failure(error, status: 1)
        }
        let mirror = RegistryClient(client: client, baseURL: base, name: base.hostHeader)
        var failed = false
        var remaining = references[...]
        func next() {
            guard let image = remaining.popFirst() else { return client.shutdown() }
            CacheWarmer(image, through: mirror, platforms: platforms).run { outcome in
                report(image, outcome)
                if !outcome.failures.isEmpty { failed = true }
                next()
            }
        }
        next()
        loop.run()
        if failed { throw ExitCode(1) }
    }

    private func report(_ image: WarmReference, _ outcome: CacheWarmer.Outcome) {
        let platforms = outcome.platforms.isEmpty ? "" : " (\(outcome.platforms.joined(separator: ", ")))"
        let verdict = outcome.failures.isEmpty ? "warmed" : "FAILED"
        print("\(verdict) \(image): \(outcome.manifests) manifests\(platforms), \(outcome.blobs) blobs, \(humanBytes(outcome.bytes))")
        for failure in outcome.failures { print("  \(failure)") }
    }

    /// `--url`, else `http://` (`https://` with `http.tls`) and the configured listen address (a wildcard
    /// address as loopback).
    private func mirrorURL() throws -> String {
        if let url { return url }
        let settings: Configuration
        do { settings = try Configuration.load(file: config, environment: ProcessInfo.processInfo.environment).0 } catch {
            throw Berth.failure(error, status: 2)
        }
        let address = settings.httpAddr
        let scheme = settings.tlsSettings == nil ? "http" : "https"
        guard let colon = address.lastIndex(of: ":") else { return "\(scheme)://\(address)" }
        var host = String(address[..<colon])
        let port = address[address.index(after: colon)...]
        if ["", "0.0.0.0", "::", "[::]"].contains(host) { host = "127.0.0.1" }
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        return "\(scheme)://\(host):\(port)"
    }
}
