import BerthHTTP
import BerthStorage

/// What a pushed manifest is and what it references, checked before it is stored; the JSON is read by
/// `ManifestReferences`, the reader garbage collection and fsck share.
struct ManifestDescription {
    let mediaType: String
    /// Blobs that must be linked in the repository (config and layers).
    let blobs: [Digest]
    /// Manifests that must exist in the repository (children of an index).
    let manifests: [Digest]
    let subject: Digest?

    /// Parses and checks `bytes`; `contentType` is the request's Content-Type header.
    init(_ bytes: [UInt8], contentType: String?) throws {
        let references: ManifestReferences
        do {
            references = try ManifestReferences(bytes)
        } catch ManifestReferences.Unreadable.notAnObject {
            throw RegistryError(.manifestInvalid, "manifest is not a JSON object")
        } catch {
            throw RegistryError(.manifestInvalid, "manifest is not valid JSON")
        }
        let declared = references.mediaType
        let header = contentType.map { $0.split(separator: ";").first.map { $0.trimmingOWS() } ?? "" }.map(String.init)
        if let declared, let header, ManifestMediaType.isKnown(header), declared != header {
            throw RegistryError(.manifestInvalid, "mediaType \(declared) does not match Content-Type \(header)")
        }
        var type = declared ?? ""
        if type.isEmpty, let header, ManifestMediaType.isKnown(header) { type = header }
        if type.isEmpty { type = references.fields.contains("manifests") ? ManifestMediaType.ociIndex : ManifestMediaType.ociManifest }
        guard references.schemaVersion == 2 else {
            throw RegistryError(.manifestInvalid, "schemaVersion must be 2 (schema1 manifests are not supported)")
        }
        mediaType = type
        subject = try references.subject.map { try Self.checked($0, field: "subject") }

        if ManifestMediaType.indexes.contains(type) {
            guard let children = references.manifests else {
                throw RegistryError(.manifestInvalid, "an index needs a manifests array")
            }
            manifests = try children.map { try Self.checked($0, field: "manifests") }
            blobs = []
        } else if ManifestMediaType.images.contains(type) {
            guard let config = references.config else {
                throw RegistryError(.manifestInvalid, "an image manifest needs a config descriptor")
            }
            guard let layers = references.layers else {
                throw RegistryError(.manifestInvalid, "an image manifest needs a layers array")
            }
            // Layers with `urls` (foreign layers) live elsewhere and need not be in the registry.
            blobs = try [Self.checked(config, field: "config")] + layers.filter { !$0.isForeign }.map { try Self.checked($0, field: "layers") }
            manifests = []
        } else {
            throw RegistryError(.manifestInvalid, "unsupported manifest media type \(type)")
        }
    }

    /// The digest of a descriptor that has all a descriptor must have.
    private static func checked(_ descriptor: ManifestReferences.Descriptor, field: String) throws -> Digest {
        guard let digest = descriptor.digest else {
            throw RegistryError(.manifestInvalid, "\(field): descriptor without a valid digest")
        }
        guard descriptor.hasSize, descriptor.hasMediaType else {
            throw RegistryError(.manifestInvalid, "\(field): descriptor \(digest) needs mediaType and size")
        }
        return digest
    }
}
