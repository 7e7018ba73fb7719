/// An image of `layers` layers of `layerSize` synthetic bytes (streams `stream`, `stream + 1`, ...), a config
/// naming them and a Docker schema 2 manifest: what `push-image` pushes. All of it a function of the seed.
public struct SyntheticLayeredImage {
    public let layers: [SyntheticBlob]
    public let config: SyntheticBlob
    public let manifest: SyntheticBlob

    public init(seed: UInt64, stream: UInt64, layers count: Int, layerSize: Int) {
        layers = (0..<count).map { SyntheticBlob(seed: seed, stream: stream + UInt64($0), size: layerSize) }
        let diffIDs = layers.map { "\"\($0.digest)\"" }.joined(separator: ",")
        config = SyntheticBlob(bytes: Array("""
            {"architecture":"amd64","os":"linux","config":{"Labels":{"berth.bench.seed":"\(seed)","berth.bench.stream":"\(stream)"}},\
            "rootfs":{"type":"layers","diff_ids":[\(diffIDs)]}}
            """.utf8))
        let layerList = layers.map {
            "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":\(layerSize),\"digest\":\"\($0.digest)\"}"
        }.joined(separator: ",")
        manifest = SyntheticBlob(bytes: Array("""
            {"schemaVersion":2,"mediaType":"\(SyntheticImage.manifestMediaType)",\
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":\(config.bytes.count),"digest":"\(config.digest)"},\
            "layers":[\(layerList)]}
            """.utf8))
    }
}
