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

    /// An upload chunk's `Content-Range`: a parsed range is ordered and its length fits an Int64.
    static let contentRange = FuzzTarget(name: "content-range") { bytes in
        guard let range = ContentRange.parse(bytes.text) else { return }
        require(range.lowerBound >= 0 && range.lowerBound <= range.upperBound, "range \(range) accepted")
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
