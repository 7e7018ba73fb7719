import BerthHTTP
import BerthStorage
import BerthUpstream
import Foundation

/// Pulls one image through a running mirror and drops the bytes, so that the mirror caches it: the manifest or
/// index, then (every platform, or the ones asked for) each image manifest, its config and its layers. The
/// mirror's own coalescing, verification and single-writer storage do the rest; a blob already cached costs a
/// hit. Loop-confined.
final class CacheWarmer {
    struct Outcome {
        var manifests = 0
        var blobs = 0
        var bytes: Int64 = 0
        /// The index's platforms that were warmed; empty for a single manifest.
        var platforms: [String] = []
        var failures: [String] = []
    }

    static let manifestAccept = [
        "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
    ].joined(separator: ", ")
    /// Blob GETs in flight at once, per image.
    static let parallelBlobs = 4

    private let upstream: RegistryClient
    private let platforms: [WarmPlatform]
    private let image: WarmReference
    private var outcome = Outcome()
    private var pending = 0
    private var blobQueue: [Digest] = []
    private var blobsSeen = Set<Digest>()
    private var blobsInFlight = 0
    private var done: ((Outcome) -> Void)?

    init(_ image: WarmReference, through upstream: RegistryClient, platforms: [WarmPlatform]) {
        self.image = image
        self.upstream = upstream
        self.platforms = platforms
    }

    func run(_ done: @escaping (Outcome) -> Void) {
        self.done = done
        fetchManifest(image.reference, top: true)
    }

    private func fetchManifest(_ reference: String, top: Bool) {
        pending += 1
        let path = image.path("manifests", reference)
        upstream.fetch("GET", path, headers: [("Accept", Self.manifestAccept)], handler: UpstreamBodyCollector(limit: 16 << 20) { [self] result in
            defer { finishOne() }
            let body: [UInt8]
            switch result {
            case .success(let response) where response.status == 200:
                body = response.body
            case .success(let response):
                return fail("GET \(path): \(response.status)\(Self.errorText(response.body))")
            case .failure(let error):
                return fail("GET \(path): \(error)")
            }
            if let expected = Digest(reference), Digest.sha256(of: body) != expected {
                return fail("GET \(path): the mirror sent \(Digest.sha256(of: body))")
            }
            outcome.manifests += 1
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
                return fail("GET \(path): the manifest is not a JSON object")
            }
            if let children = object["manifests"] as? [[String: Any]] {
                guard top else { return fail("GET \(path): an index inside an index") }
                warmChildren(children, path: path)
            } else {
                if top && !platforms.isEmpty {
                    outcome.failures.append("\(image): a single manifest, not an index: --platform does not apply, warmed as it is")
                }
                queueBlobs(of: object)
            }
        })
    }

    private func warmChildren(_ children: [[String: Any]], path: String) {
        let chosen = platforms.isEmpty ? children : children.filter { child in
            platforms.contains { $0.matches(child["platform"] as? [String: Any]) }
        }
        if chosen.isEmpty {
            let offered = children.compactMap { ($0["platform"] as? [String: Any]).map(Self.platformText) }
            return fail("\(path): no manifest for \(platforms.map(\.description).joined(separator: ", ")) in the index "
                        + "(it has \(offered.isEmpty ? "none with a platform" : offered.joined(separator: ", ")))")
        }
        for child in chosen {
            guard let text = child["digest"] as? String, Digest(text) != nil else {
                fail("\(path): an index entry without a valid digest")
                continue
            }
            if let platform = child["platform"] as? [String: Any] { outcome.platforms.append(Self.platformText(platform)) }
            fetchManifest(text, top: false)
        }
    }

    private func queueBlobs(of manifest: [String: Any]) {
        var digests: [String] = []
        if let config = manifest["config"] as? [String: Any], let text = config["digest"] as? String { digests.append(text) }
        for layer in manifest["layers"] as? [[String: Any]] ?? [] {
            if let text = layer["digest"] as? String { digests.append(text) }
        }
        // Schema1 lists its layers as fsLayers.
        for layer in manifest["fsLayers"] as? [[String: Any]] ?? [] {
            if let text = layer["blobSum"] as? String { digests.append(text) }
        }
        for text in digests {
            guard let digest = Digest(text) else {
                fail("\(image): the manifest names \(quoted(text)), not a digest")
                continue
            }
            if blobsSeen.insert(digest).inserted { blobQueue.append(digest) }
        }
        startBlobs()
    }

    private func startBlobs() {
        while blobsInFlight < Self.parallelBlobs, !blobQueue.isEmpty {
            let digest = blobQueue.removeFirst()
            blobsInFlight += 1
            pending += 1
            let path = image.path("blobs", digest.description)
            upstream.fetch("GET", path, handler: DiscardedBody { [self] status, bytes, errorBody, error in
                blobsInFlight -= 1
                if let error {
                    fail("GET \(path): \(error)")
                } else if status != 200 {
                    fail("GET \(path): \(status)\(Self.errorText(errorBody))")
                } else {
                    outcome.blobs += 1
                    outcome.bytes += bytes
                }
                startBlobs()
                finishOne()
            })
        }
    }

    private func fail(_ text: String) {
        outcome.failures.append(text)
    }

    private func finishOne() {
        pending -= 1
        guard pending == 0, blobQueue.isEmpty, let done else { return }
        self.done = nil
        done(outcome)
    }

    private static func platformText(_ platform: [String: Any]) -> String {
        [platform["os"], platform["architecture"], platform["variant"]].compactMap { $0 as? String }.joined(separator: "/")
    }

    /// `: <message>` from a registry's JSON error body, when it has one.
    private static func errorText(_ body: [UInt8]) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let first = (object["errors"] as? [[String: Any]])?.first else { return "" }
        let parts = [first["code"] as? String, first["message"] as? String, first["detail"] as? String].compactMap { $0 }
        return parts.isEmpty ? "" : ": " + parts.joined(separator: ": ")
    }
}

/// Reads a response and keeps only its length (and the start of an error's body). Loop-confined.
final class DiscardedBody: UpstreamResponseHandler {
    private var status = 0
    private var bytes: Int64 = 0
    private var errorBody: [UInt8] = []
    private var completion: ((Int, Int64, [UInt8], UpstreamError?) -> Void)?

    init(_ completion: @escaping (_ status: Int, _ bytes: Int64, _ errorBody: [UInt8], _ error: UpstreamError?) -> Void) {
        self.completion = completion
    }

    func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        self.status = status
    }

    func body(_ chunk: UnsafeRawBufferPointer) {
        bytes += Int64(chunk.count)
        if status != 200 && errorBody.count < 4096 { errorBody.append(contentsOf: chunk.prefix(4096 - errorBody.count)) }
    }

    func end(error: UpstreamError?) {
        let completion = self.completion
        self.completion = nil
        completion?(status, bytes, errorBody, error)
    }
}
