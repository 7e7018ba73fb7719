import ArgumentParser
import BerthConfiguration
import BerthHTTP
import BerthS3
import BerthUpstream
import Foundation

/// `berth storage ...`: diagnostics of a storage configuration.
struct StorageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Diagnose a storage configuration.",
        subcommands: [S3Check.self])
}

/// `berth storage s3-check CONFIG`: the S3 operations the S3 driver will use, on probe objects, against the
/// bucket of the file's storage.s3 (registry:2's keys). `berth serve` does not use storage.s3 yet.
struct S3Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3-check",
        abstract: "Check an S3-compatible bucket (storage.s3) with put, get, range-get, multipart, copy, list and delete.",
        discussion: """
            Reads storage.s3 from CONFIG (regionendpoint, region, bucket, accesskey, secretkey, rootdirectory, \
            secure, v4auth, chunksize, as registry:2's s3 driver names them) and works on probe objects under \
            <rootdirectory>/_berth_probe/<random>/, deleting them at the end. Each step prints as it ends; the \
            first failure stops the check and prints the S3 error code (never the secret key).

            Exit status: 0 every step passed, 1 a step failed, 2 the configuration is unusable.
            """)

    @Argument(help: "A registry:2-style YAML configuration with a storage.s3 section.")
    var config: String

    @Option(name: .long, help: "Bytes of the multipart probe object (default: two parts of chunksize and 1 KiB).")
    var multipartSize: Int?

    @Flag(name: .long, help: "Send bodies as UNSIGNED-PAYLOAD instead of hashing them into the signature.")
    var unsignedPayload = false

    func run() throws {
        let settings: S3StorageSettings
        do { settings = try Configuration.s3Storage(file: config) } catch { throw Berth.failure(error, status: 2) }
        var clientSettings = settings.client
        clientSettings.signPayloads = !unsignedPayload
        let loop = EventLoop()
        var configuration = UpstreamClient.Configuration()
        configuration.userAgent = "berth-s3-check/\(Berth.version)"
        let upstream: UpstreamClient
        do { upstream = try UpstreamClient(loop: loop, configuration: configuration) } catch { throw Berth.failure(error, status: 2) }
        let client = S3Client(upstream: upstream, configuration: clientSettings)
        let probe = S3Probe(client: client, root: settings.rootDirectory, chunkSize: settings.chunkSize,
                            multipartSize: multipartSize ?? 2 * settings.chunkSize + 1024) { step in
            let time = String(format: "%.1f ms", step.milliseconds)
            if let failure = step.failure {
                print("FAILED \(step.name): \(failure) [\(step.detail)]")
            } else {
                print("ok     \(step.name): \(step.detail) (\(time))")
            }
            fflush(stdout)
        }
        print("checking bucket \(clientSettings.bucket) at \(clientSettings.endpoint) (region \(clientSettings.region), "
              + "\(clientSettings.credentials)), probe objects under \(probe.probePrefix)")
        var passed = false
        probe.run { ok in
            passed = ok
            upstream.shutdown()
        }
        loop.run()
        print(passed ? "s3-check passed" : "s3-check FAILED")
        if !passed { throw ExitCode(1) }
    }
}
