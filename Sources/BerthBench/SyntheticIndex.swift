/// The image `pull-image` seeds and pulls: a Docker manifest list (the media type both Berth and
/// docker-registry 2.8 take) naming a linux/amd64 and a linux/arm64 manifest, each with its own config and
/// both over the same `layers` layers of `layerSize` synthetic bytes. All of it is a function of the seed.
public struct SyntheticIndex {
    public static let indexMediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    public let layers: [SyntheticBlob]
    /// amd64 first: the platform the pull picks.
    public let configs: [SyntheticBlob]
    public let manifests: [SyntheticBlob]
    public let index: SyntheticBlob

    public init(seed: UInt64, layers count: Int, layerSize: Int) {
        layers = (0..<count).map { SyntheticBlob(seed: seed, stream: 100 + UInt64($0), size: layerSize) }
        let diffIDs = layers.map { "\"\($0.digest)\"" }.joined(separator: ",")
        let layerList = layers.map {
            "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":\(layerSize),\"digest\":\"\($0.digest)\"}"
        }.joined(separator: ",")
        configs = ["amd64", "arm64"].map { architecture in
            SyntheticBlob(bytes: Array("""
                {"architecture":"\(architecture)","os":"linux","config":{"Labels":{"berth.bench.seed":"\(seed)"}},\
                "rootfs":{"type":"layers","diff_ids":[\(diffIDs)]}}
                """.utf8))
        }
        manifests = configs.map { config in
            SyntheticBlob(bytes: Array("""
                {"schemaVersion":2,"mediaType":"\(SyntheticImage.manifestMediaType)",\
                "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":\(config.bytes.count),"digest":"\(config.digest)"},\
                "layers":[\(layerList)]}
                """.utf8))
        }
        let entries = zip(manifests, ["amd64", "arm64"]).map { manifest, architecture in
            "{\"mediaType\":\"\(SyntheticImage.manifestMediaType)\",\"size\":\(manifest.bytes.count),\"digest\":\"\(manifest.digest)\","
                + "\"platform\":{\"architecture\":\"\(architecture)\",\"os\":\"linux\"}}"
        }.joined(separator: ",")
        index = SyntheticBlob(bytes: Array("{\"schemaVersion\":2,\"mediaType\":\"\(SyntheticIndex.indexMediaType)\",\"manifests\":[\(entries)]}".utf8))
    }
}
