import BerthStorage

/// Bytes that depend only on a seed and a stream number (SplitMix64, Steele et al. 2014), so two runs, or
/// two registries benchmarked one after the other, get the same blobs and the same digests.
public enum SyntheticContent {
    /// `count` bytes of stream `stream` under `seed`.
    public static func bytes(seed: UInt64, stream: UInt64, count: Int) -> [UInt8] {
        var state = seed &+ stream &* 0xD1B5_4A32_D192_ED03
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < count {
                var word = next(&state).littleEndian
                let take = min(8, count - offset)
                withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: take) }
                offset += take
            }
        }
        return out
    }

    static func next(_ state: inout UInt64) -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A blob the harness pushes or expects to pull: its bytes and their digest.
public struct SyntheticBlob {
    public let bytes: [UInt8]
    public let digest: Digest

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        digest = Digest.sha256(of: bytes)
    }

    public init(seed: UInt64, stream: UInt64, size: Int) {
        self.init(bytes: SyntheticContent.bytes(seed: seed, stream: stream, count: size))
    }
}

/// The image every scenario seeds: one layer of `layerSize` synthetic bytes, a config naming it, and a
/// Docker schema 2 manifest (the media type both Berth and docker-registry 2.8 take). All of it is a
/// function of the seed.
public struct SyntheticImage {
    public static let manifestMediaType = "application/vnd.docker.distribution.manifest.v2+json"
    public let layer: SyntheticBlob
    public let config: SyntheticBlob
    public let manifest: SyntheticBlob

    public init(seed: UInt64, layerSize: Int) {
        layer = SyntheticBlob(seed: seed, stream: 0, size: layerSize)
        let configText = """
            {"architecture":"amd64","os":"linux","config":{"Labels":{"berth.bench.seed":"\(seed)"}},\
            "rootfs":{"type":"layers","diff_ids":["\(layer.digest)"]}}
            """
        config = SyntheticBlob(bytes: Array(configText.utf8))
        let manifestText = """
            {"schemaVersion":2,"mediaType":"\(SyntheticImage.manifestMediaType)",\
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":\(config.bytes.count),"digest":"\(config.digest)"},\
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":\(layerSize),"digest":"\(layer.digest)"}]}
            """
        manifest = SyntheticBlob(bytes: Array(manifestText.utf8))
    }
}
