import Foundation

/// What a manifest's JSON references, read by the one parser both of its readers share: a manifest PUT,
/// which judges the references strictly before the manifest is stored (`ManifestDescription`), and garbage
/// collection and fsck, which read stored manifests leniently (what is stored, by Berth or by registry:2,
/// keeps whatever it names). A PUT, a sweep, a check, never a GET: Foundation's JSON parser is fine here.
public struct ManifestReferences {
    /// A descriptor (OCI image-spec "Descriptor") as written, before anyone judges it.
    public struct Descriptor {
        /// nil when `digest` is missing, not a string, or not a digest.
        public let digest: Digest?
        /// `size` is a JSON number.
        public let hasSize: Bool
        /// `mediaType` is a string.
        public let hasMediaType: Bool
        /// A non-empty `urls` array: a foreign layer, whose bytes live elsewhere.
        public let isForeign: Bool

        init(_ object: [String: Any]) {
            digest = (object["digest"] as? String).flatMap { Digest($0) }
            hasSize = object["size"] is NSNumber
            hasMediaType = object["mediaType"] is String
            isForeign = !((object["urls"] as? [Any])?.isEmpty ?? true)
        }
    }

    public enum Unreadable: Error {
        case notJSON
        case notAnObject
    }

    /// The names of the top-level fields, whatever their values (`null` included).
    public let fields: Set<String>
    /// `mediaType`, when it is a string.
    public let mediaType: String?
    /// `schemaVersion`, when it is an integer.
    public let schemaVersion: Int?
    /// nil when absent or not an object.
    public let config: Descriptor?
    /// nil when absent or not an array of objects (one element that is not an object and it is no list of
    /// descriptors at all).
    public let layers: [Descriptor]?
    /// An index's children.
    public let manifests: [Descriptor]?
    /// The OCI artifact manifest draft's list.
    public let blobs: [Descriptor]?
    /// Schema1's `fsLayers[].blobSum` that are digests.
    public let fsLayers: [Digest]
    public let subject: Descriptor?

    public init(_ bytes: [UInt8]) throws {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(bytes)) } catch { throw Unreadable.notJSON }
        guard let object = parsed as? [String: Any] else { throw Unreadable.notAnObject }
        fields = Set(object.keys)
        mediaType = object["mediaType"] as? String
        schemaVersion = object["schemaVersion"] as? Int
        config = (object["config"] as? [String: Any]).map(Descriptor.init)
        layers = (object["layers"] as? [[String: Any]])?.map(Descriptor.init)
        manifests = (object["manifests"] as? [[String: Any]])?.map(Descriptor.init)
        blobs = (object["blobs"] as? [[String: Any]])?.map(Descriptor.init)
        fsLayers = (object["fsLayers"] as? [[String: Any]] ?? []).compactMap { ($0["blobSum"] as? String).flatMap { Digest($0) } }
        subject = (object["subject"] as? [String: Any]).map(Descriptor.init)
    }

    /// What garbage collection keeps and fsck expects stored: every digest named by the config, the layers
    /// (foreign ones too), an index's children, `blobs` and schema1's layers. Not the subject: a referrer
    /// does not keep what it refers to (registry:2's marking neither).
    public var referenced: [Digest] {
        let descriptors = [config].compactMap { $0 } + (layers ?? []) + (manifests ?? []) + (blobs ?? [])
        return descriptors.compactMap(\.digest) + fsLayers
    }

    /// Whether stored bytes are a manifest (an index's child, whose own references count) rather than a
    /// config blob that happens to be JSON: a `schemaVersion` beside layers, children or schema1's layers.
    public var isManifest: Bool {
        fields.contains("schemaVersion") && !fields.isDisjoint(with: ["layers", "manifests", "fsLayers"])
    }

    /// The largest manifest read back from the store.
    static let storedLimit = 16 << 20
}

extension RegistryStore {
    /// The references of a stored manifest; nil when the blob is not stored, too large or not a JSON object.
    func manifestReferences(_ digest: Digest) -> ManifestReferences? {
        guard let bytes = try? readBlob(digest, limit: ManifestReferences.storedLimit) else { return nil }
        return try? ManifestReferences(bytes)
    }

    /// True when a referenced digest is itself a stored manifest (an index's child), so its references count too.
    func isStoredManifest(_ digest: Digest) -> Bool {
        guard let size = blobSize(digest), size < ManifestReferences.storedLimit,
              let bytes = try? readBlob(digest, limit: ManifestReferences.storedLimit), bytes.first == UInt8(ascii: "{") else { return false }
        return (try? ManifestReferences(bytes))?.isManifest ?? false
    }
}
