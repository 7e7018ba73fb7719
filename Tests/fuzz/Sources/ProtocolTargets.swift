@testable import BerthHTTP
@testable import BerthRegistry
@testable import BerthStorage

/// Targets for what a client sends: ranges, names and digests, request paths, manifests.
extension FuzzTarget {
    /// `Range` of a blob GET against a blob of any size: a satisfiable answer lies inside the blob.
    static let byteRange = FuzzTarget(name: "byte-range") { bytes in
        let (size, header) = bytes.numberAndText
        let blobSize = size & Int64.max
        if case .satisfiable(let range) = ByteRange.resolve(header, size: blobSize) {
            require(range.first >= 0 && range.first <= range.last && range.last < blobSize, "range \(range) outside a blob of \(blobSize)")
        }
    }

    /// An upload chunk's `Content-Range` (Docker/OCI and Kraken forms) against an upload at any offset with
    /// any declared length: the state machine answers, and what it accepts starts at the offset.
    static let contentRange = FuzzTarget(name: "content-range") { bytes in
        let (number, header) = bytes.numberAndText
        let offset = number & Int64.max
        let declared = number >> 1
        if let range = ContentRange.chunk(header) {
            require(range.lowerBound >= 0, "range \(range) accepted")
            let machine = UploadStateMachine(offset: offset)
            for length in [nil, declared, declared & Int64.max, Int64.max] {
                if case .append(let at) = machine.chunk(range: range, declaredLength: length) {
                    require(at == offset && range.lowerBound == offset, "append at \(at) for \(range) on \(offset)")
                }
            }
        }
        if let (start, end) = ContentRange.kraken(header) {
            require(start >= 0 && end >= start, "Kraken range \(start)-\(end) accepted")
            // Kraken's PATCH runs the same machine on its half-open range (an empty one included).
            let machine = UploadStateMachine(offset: offset)
            for length in [nil, declared, declared & Int64.max, Int64.max] {
                if case .append(let at) = machine.chunk(from: start, to: end, declaredLength: length) {
                    require(at == offset && start == offset, "Kraken append at \(at) for \(start)-\(end) on \(offset)")
                }
            }
        }
    }

    /// Repository names and digests: an accepted one is a relative path below the storage root.
    static let names = FuzzTarget(name: "names") { bytes in
        let text = bytes.text
        if let name = RepositoryName(text) {
            require(!name.value.hasPrefix("/") && !name.value.split(separator: "/").contains { $0 == ".." || $0 == "." },
                    "name \(name) escapes the root")
        }
        if let digest = Digest(text) {
            require(!digest.encoded.contains("/") && !digest.encoded.contains("."), "digest \(digest) escapes the root")
        }
    }

    /// A request path and query: routed or refused, never a trap.
    static let route = FuzzTarget(name: "route") { bytes in
        let target = bytes.text
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        _ = Route.parse(path[0])
        if path.count > 1 {
            let query = QueryParameters(path[1])
            _ = try? Page(sorted: ["a", "b", "c"], query: query, path: path[0])
        }
    }

    /// A pushed manifest: accepted or refused with a registry error, never a trap.
    static let manifest = FuzzTarget(name: "manifest") { bytes in
        let body = Array(bytes)
        for contentType in [nil, "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                            "application/vnd.docker.distribution.manifest.v2+json"] {
            _ = try? ManifestDescription(body, contentType: contentType)
        }
    }
}
