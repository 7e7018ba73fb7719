/// The manifest media types a registry stores and serves.
enum ManifestMediaType {
    static let dockerSchema2 = "application/vnd.docker.distribution.manifest.v2+json"
    static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
    static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
    static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    static let ociIndex = "application/vnd.oci.image.index.v1+json"

    static let images: Set<String> = [dockerSchema2, ociManifest]
    static let indexes: Set<String> = [dockerList, ociIndex]

    static func isKnown(_ type: String) -> Bool {
        images.contains(type) || indexes.contains(type)
    }

    /// The type of stored bytes, as registry:2 decides it: the `mediaType` field, else the shape
    /// (`manifests` → OCI index, `config`/`layers` → OCI manifest, `schemaVersion: 1` → schema1).
    /// A shallow scan, not a parse: manifest GETs never build a JSON tree.
    static func detect(_ bytes: [UInt8]) -> String {
        let fields = TopLevelFields(bytes)
        if let type = fields.mediaType { return type }
        if fields.hasManifests { return ociIndex }
        if fields.schemaVersion == 1 { return dockerSchema1Signed }
        return ociManifest
    }
}

/// The few top-level facts of a JSON object that media type detection needs, found in one pass.
private struct TopLevelFields {
    var mediaType: String?
    var hasManifests = false
    var schemaVersion: Int?

    init(_ bytes: [UInt8]) {
        var depth = 0
        var index = 0
        var expectingKey = false
        var pendingKey: [UInt8]?
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = byte == UInt8(ascii: "{") && depth == 1
                pendingKey = nil
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 { expectingKey = true }
            case UInt8(ascii: "\""):
                let (string, end) = Self.readString(bytes, from: index)
                index = end
                if depth == 1 {
                    if expectingKey {
                        pendingKey = string
                        expectingKey = false
                        if string == Array("manifests".utf8) { hasManifests = true }
                    } else if pendingKey == Array("mediaType".utf8) {
                        mediaType = String(decoding: string, as: UTF8.self)
                        pendingKey = nil
                    }
                }
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if depth == 1, pendingKey == Array("schemaVersion".utf8) {
                    schemaVersion = Int(byte - UInt8(ascii: "0"))
                    pendingKey = nil
                }
            default:
                break
            }
            index += 1
        }
    }

    /// The string starting at the quote at `start`, and the index of its closing quote. Escapes are kept raw.
    private static func readString(_ bytes: [UInt8], from start: Int) -> ([UInt8], Int) {
        var index = start + 1
        var out: [UInt8] = []
        while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\") && index + 1 < bytes.count {
                out.append(bytes[index])
                index += 1
            }
            out.append(bytes[index])
            index += 1
        }
        return (out, index)
    }
}
