import Foundation

/// What the UI shows of a stored manifest: an image manifest (config and layers) or an index (child manifests
/// with their platforms), either with annotations, an artifact type and a subject. Read with Foundation's JSON
/// parser, off the loop, from bytes the PUT already validated; a field that is missing or of another type is
/// left out rather than failing the page.
struct ManifestDocument {
    struct Descriptor {
        let mediaType: String
        let digest: String
        let size: Int64
        let platform: String?
        let artifactType: String?
        let annotations: [(key: String, value: String)]
    }

    let mediaType: String
    let artifactType: String?
    let config: Descriptor?
    let layers: [Descriptor]
    /// The children of an index.
    let manifests: [Descriptor]
    let subject: Descriptor?
    let annotations: [(key: String, value: String)]

    var isIndex: Bool { config == nil && (!manifests.isEmpty || mediaType.contains("index") || mediaType.contains("manifest.list")) }

    /// The config and the layers, as `docker pull` downloads them (an index: its own bytes only).
    var imageBytes: Int64 { (config?.size ?? 0) + layers.reduce(0) { $0 + $1.size } }

    init?(_ bytes: [UInt8], storedMediaType: String? = nil) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { return nil }
        mediaType = object["mediaType"] as? String ?? storedMediaType ?? "application/vnd.oci.image.manifest.v1+json"
        artifactType = object["artifactType"] as? String
        config = (object["config"] as? [String: Any]).flatMap(Self.descriptor)
        layers = (object["layers"] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).flatMap(Self.descriptor) }
        manifests = (object["manifests"] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).flatMap(Self.descriptor) }
        subject = (object["subject"] as? [String: Any]).flatMap(Self.descriptor)
        annotations = Self.strings(object["annotations"])
    }

    static func descriptor(_ object: [String: Any]) -> Descriptor? {
        guard let digest = object["digest"] as? String else { return nil }
        var platform: String?
        if let fields = object["platform"] as? [String: Any] {
            platform = Self.platform(os: fields["os"] as? String, architecture: fields["architecture"] as? String, variant: fields["variant"] as? String)
        }
        return Descriptor(mediaType: object["mediaType"] as? String ?? "", digest: digest, size: (object["size"] as? NSNumber)?.int64Value ?? 0,
                          platform: platform, artifactType: object["artifactType"] as? String, annotations: strings(object["annotations"]))
    }

    /// `linux/arm64/v8`, as `docker pull --platform` writes it.
    static func platform(os: String?, architecture: String?, variant: String?) -> String? {
        guard let os, let architecture else { return nil }
        return [os, architecture, variant].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
    }

    /// A string map (annotations, labels), sorted by key; values of other types are skipped.
    static func strings(_ value: Any?) -> [(key: String, value: String)] {
        guard let map = value as? [String: Any] else { return [] }
        return map.compactMap { key, value in (value as? String).map { (key, $0) } }.sorted { $0.key < $1.key }
    }
}
