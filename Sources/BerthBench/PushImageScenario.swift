import ArgumentParser
import BerthStorage

/// `push-image`: a whole image pushed as skopeo pushes one: for each layer, then the config, a HEAD of the
/// blob; a blob the registry lacks (404) is uploaded (`--upload`: streamed as skopeo does, POST, one PATCH,
/// PUT `?digest=`; or monolithic, POST then PUT; or chunked, PATCHes of `--chunk-size`); one it has (200) is
/// skipped; then the manifest PUT under `<tag>-push`. An operation is the whole image, its steps one after
/// another on one connection (skopeo spreads layers over connections; `--concurrency` images do here).
/// Images come from a pool made and hashed before the load (at most 256 MiB, at most 32 images); once
/// the pool has gone round, HEADs find the blobs and skip them, counted as `blobs_present`.
final class PushImageScenario: BenchScenario {
    let name = "push-image"

    private struct Image {
        var blobs: [(body: PinnedBytes, digest: Digest)]
        var manifest: PinnedBytes
    }

    private enum Phase {
        case head, start, patch(offset: Int), finish
    }

    private let images: [Image]
    private let heads: RequestHead
    private let repository: String
    private let tag: String
    private let upload: ImageUpload
    private let chunkSize: Int
    /// Per operation in flight: the blob it is at and what it sent last for it.
    private var progress: [Int: (blob: Int, phase: Phase)] = [:]
    private(set) var blobsUploaded = 0
    private(set) var blobsPresent = 0

    init(_ context: ScenarioContext, upload: ImageUpload) {
        heads = context.heads
        repository = context.repository
        tag = context.tag + "-push"
        self.upload = upload
        chunkSize = context.chunkSize
        let imageBytes = max(context.layers * context.layerSize, 1)
        let count = max(1, min(32, PushMonolithicScenario.poolBytes / imageBytes))
        images = (0..<count).map { index in
            let image = SyntheticLayeredImage(seed: context.seed, stream: 4000 + UInt64(index) * 1000, layers: context.layers,
                                                 layerSize: context.layerSize)
            return Image(blobs: (image.layers + [image.config]).map { (PinnedBytes($0.bytes), $0.digest) },
                         manifest: PinnedBytes(image.manifest.bytes))
        }
    }

    var counters: [(String, Int)] { [("blobs_uploaded", blobsUploaded), ("blobs_present", blobsPresent)] }

    func failed(operation: Int) {
        progress[operation] = nil
    }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        let image = images[operation % images.count]
        guard step > 0, let state = progress[operation] else {
            progress[operation] = (0, .head)
            return head(image.blobs[0].digest)
        }
        var (blob, phase) = state
        if blob == image.blobs.count {
            progress[operation] = nil
            return nil
        }
        let body = image.blobs[blob].body
        let location = PushChunkedScenario.path(of: previous?.location ?? "")
        var next: BenchRequest
        switch phase {
        case .head where previous?.status == 200:
            blobsPresent += 1
            (blob, phase, next) = advance(image, from: blob)
        case .head:
            phase = .start
            next = BenchRequest(head: heads.make("POST", "/v2/\(repository)/blobs/uploads/", contentLength: 0), expected: 202...202,
                                wantsLocation: true)
        case .start where upload == .monolithic:
            phase = .finish
            let target = BlobUpload.target(location: location, digest: image.blobs[blob].digest)
            next = BenchRequest(head: heads.make("PUT", target, headers: ["Content-Type: application/octet-stream"], contentLength: body.count),
                                body: body.bytes, expected: 201...201)
        case .start, .patch:
            var offset = 0
            if case .patch(let sent) = phase { offset = sent }
            if offset == body.count {
                phase = .finish
                next = BenchRequest(head: heads.make("PUT", BlobUpload.target(location: location, digest: image.blobs[blob].digest),
                                                     contentLength: 0), expected: 201...201)
            } else {
                let length = upload == .chunked ? min(chunkSize, body.count - offset) : body.count
                let range = upload == .chunked ? ["Content-Range: \(offset)-\(offset + length - 1)"] : []
                phase = .patch(offset: offset + length)
                next = BenchRequest(head: heads.make("PATCH", location, headers: ["Content-Type: application/octet-stream"] + range,
                                                     contentLength: length),
                                    body: UnsafeRawBufferPointer(rebasing: body.bytes[offset..<offset + length]), expected: 202...202,
                                    wantsLocation: true)
            }
        case .finish:
            blobsUploaded += 1
            (blob, phase, next) = advance(image, from: blob)
        }
        progress[operation] = (blob, phase)
        return next
    }

    /// The HEAD of the blob after `blob`, or after the last one the manifest PUT (and `blob` past the end).
    private func advance(_ image: Image, from blob: Int) -> (Int, Phase, BenchRequest) {
        if blob + 1 < image.blobs.count { return (blob + 1, .head, head(image.blobs[blob + 1].digest)) }
        let put = heads.make("PUT", "/v2/\(repository)/manifests/\(tag)", headers: ["Content-Type: \(SyntheticImage.manifestMediaType)"],
                             contentLength: image.manifest.count)
        return (image.blobs.count, .head, BenchRequest(head: put, body: image.manifest.bytes, expected: 201...201))
    }

    private func head(_ digest: Digest) -> BenchRequest {
        // 404 is the answer wanted for a new blob; the next step reads which it was.
        BenchRequest(head: heads.make("HEAD", "/v2/\(repository)/blobs/\(digest)"), isHead: true, expected: 200...404)
    }
}

/// push-image's `--upload`: how a blob the registry lacks goes up.
public enum ImageUpload: String, CaseIterable, ExpressibleByArgument {
    case streamed, monolithic, chunked
}
