@testable import BerthUpstream
import BerthTestSupport
import COpenSSL
import Foundation
import XCTest

/// The client against the reference registry, Debian's `docker-registry` (CNCF Distribution 2.8).
final class DistributionUpstreamTests: XCTestCase {
    static let binary = "/usr/bin/docker-registry"
    var directory: String!
    var registry: PeerProcess!
    var port = 0
    var harness: LoopHarness!
    var client: UpstreamClient!

    override func setUpWithError() throws {
        // `make test` installs docker-registry; its absence is a failure, not a skip.
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw NSError(domain: "docker-registry is not installed (apt-get install docker-registry)", code: 1)
        }
        directory = try TemporaryDirectory.make("berth-mirror-distribution")
        port = unusedLoopbackPort()
        try """
        version: 0.1
        log:
          level: warn
        storage:
          filesystem:
            rootdirectory: \(directory!)/data
        http:
          addr: 127.0.0.1:\(port)
          secret: berth-test
        """.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        registry = try PeerProcess(Self.binary, ["serve", "config.yml"], directory: directory, name: "registry")
        guard TestClient.waitUntilListening(port: port, while: { registry.process.isRunning }) else {
            throw NSError(domain: "registry", code: 1, userInfo: [NSLocalizedDescriptionKey: "docker-registry did not listen: \(registry.log)"])
        }
        harness = LoopHarness()
        client = try UpstreamClient(loop: harness.loop)
    }

    override func tearDown() {
        client?.shutdown()
        harness?.drain()
        registry?.stop()
        if let directory { TemporaryDirectory.remove(directory) }
    }

    private func sha256(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = bytes.withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &digest, &length, EVP_sha256(), nil) }
        return "sha256:" + digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    func test_version_check_blob_push_and_streamed_blob_pull() throws {
        let upstream = RegistryClient(client: client, baseURL: UpstreamURL("http://127.0.0.1:\(port)")!)
        let base = harness.fetch(upstream, "/v2/")
        XCTAssertNil(base.error)
        XCTAssertEqual(base.status, 200)
        XCTAssertEqual(base.headers["Docker-Distribution-Api-Version"], "registry/2.0")
        XCTAssertEqual(base.text, "{}")

        var generator = SystemRandomNumberGenerator()
        let blob = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let digest = sha256(blob)

        // OCI dist-spec "POST then PUT": the upload's Location, then the bytes with the digest.
        let started = harness.fetch(upstream, "/v2/berth/mirror-test/blobs/uploads/", method: "POST")
        XCTAssertEqual(started.status, 202)
        let location = try XCTUnwrap(started.headers["Location"])
        let uploadURL = try XCTUnwrap(RegistryFetch.resolve(location, against: upstream.url(for: "/v2/")))
        let separator = uploadURL.target.contains("?") ? "&" : "?"
        let committed = harness.fetch(upstream, uploadURL.target + separator + "digest=" + percentEncoded(digest), method: "PUT",
                                      headers: [("Content-Type", "application/octet-stream")], body: blob)
        XCTAssertNil(committed.error)
        XCTAssertEqual(committed.status, 201, committed.text)
        XCTAssertEqual(committed.headers["Docker-Content-Digest"], digest)

        let pulled = harness.fetch(upstream, "/v2/berth/mirror-test/blobs/\(digest)")
        XCTAssertNil(pulled.error)
        XCTAssertEqual(pulled.status, 200)
        XCTAssertEqual(pulled.headers["Docker-Content-Digest"], digest)
        XCTAssertEqual(pulled.body.count, blob.count)
        XCTAssertEqual(sha256(pulled.body), digest)

        let head = harness.fetch(upstream, "/v2/berth/mirror-test/blobs/\(digest)", method: "HEAD")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.headers["Content-Length"], String(blob.count))
        XCTAssertTrue(head.body.isEmpty)

        let missing = harness.fetch(upstream, "/v2/berth/mirror-test/blobs/sha256:" + String(repeating: "0", count: 64))
        XCTAssertEqual(missing.status, 404)
        XCTAssertTrue(missing.text.contains("BLOB_UNKNOWN"), missing.text)
        XCTAssertEqual(client.connectionsOpened, 1, "every request should have reused the one keep-alive connection")
    }
}
