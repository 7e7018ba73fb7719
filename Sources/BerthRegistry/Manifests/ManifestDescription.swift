import BerthHTTP
import BerthStorage
import Foundation

/// What a pushed manifest is and what it references, checked before it is stored (a PUT, not a GET:
/// Foundation's JSON parser is fine here).
struct ManifestDescription {
    let mediaType: String
    /// Blobs that must be linked in the repository (config and layers).
    let blobs: [Digest]
    /// Manifests that must exist in the repository (children of an index).
    let manifests: [Digest]
    let subject: Digest?

    /// Parses and checks `bytes`; `contentType` is the request's Content-Type header.
    init(_ bytes: [UInt8], contentType: String?) throws {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw RegistryError(.manifestInvalid, "manifest is not a JSON object")
            }
            object = parsed
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError(.manifestInvalid, "manifest is not valid JSON")
        }
        let declared = object["mediaType"] as? String
        let header = contentType.map { $0.split(separator: ";").first.map { $0.trimmingOWS() } ?? "" }.map(String.init)
        if let declared, let header, ManifestMediaType.isKnown(header), declared != header {
            throw RegistryError(.manifestInvalid, "mediaType \(declared) does not match Content-Type \(header)")
        }
        var type = declared ?? ""
        if type.isEmpty, let header, ManifestMediaType.isKnown(header) { type = header }
        if type.isEmpty { type = object["manifests"] != nil ? ManifestMediaType.ociIndex : ManifestMediaType.ociManifest }
        guard (object["schemaVersion"] as? Int) == 2 else {
            throw RegistryError(.manifestInvalid, "schemaVersion must be 2 (schema1 manifests are not supported)")
        }
        mediaType = type
        subject = try (object["subject"] as? [String: Any]).map { try Self.descriptorDigest($0, field: "subject") }

        if ManifestMediaType.indexes.contains(type) {
            guard let children = object["manifests"] as? [[String: Any]] else {
                throw RegistryError(.manifestInvalid, "an index needs a manifests array")
            }
            manifests = try children.map { try Self.descriptorDigest($0, field: "manifests") }
            blobs = []
        } else if ManifestMediaType.images.contains(type) {
            guard let config = object["config"] as? [String: Any] else {
                throw RegistryError(.manifestInvalid, "an image manifest needs a config descriptor")
            }
            guard let layers = object["layers"] as? [[String: Any]] else {
                throw RegistryError(.manifestInvalid, "an image manifest needs a layers array")
            }
            // Layers with `urls` (foreign layers) live elsewhere and need not be in the registry.
            let local = layers.filter { ($0["urls"] as? [Any])?.isEmpty ?? true }
            blobs = try [Self.descriptorDigest(config, field: "config")] + local.map { try Self.descriptorDigest($0, field: "layers") }
            manifests = []
        } else {
            throw RegistryError(.manifestInvalid, "unsupported manifest media type \(type)")
        }
    }

    private static func descriptorDigest(_ descriptor: [String: Any], field: String) throws -> Digest {
        guard let text = descriptor["digest"] as? String, let digest = Digest(text) else {
            throw RegistryError(.manifestInvalid, "\(field): descriptor without a valid digest")
        }
        guard descriptor["size"] is NSNumber, descriptor["mediaType"] is String else {
            throw RegistryError(.manifestInvalid, "\(field): descriptor \(digest) needs mediaType and size")
        }
        return digest
    }
}
