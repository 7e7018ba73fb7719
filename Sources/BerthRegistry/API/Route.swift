import BerthStorage

/// Where a request goes, decided from its path alone (OCI dist-spec "Endpoints").
enum Route: Equatable {
    case base
    case catalog
    case tags(RepositoryName)
    case manifest(RepositoryName, reference: String)
    case blob(RepositoryName, digest: String)
    case uploads(RepositoryName)
    case upload(RepositoryName, id: String)
    case referrers(RepositoryName, digest: String)

    /// A short name for metrics.
    var label: String {
        switch self {
        case .base: return "base"
        case .catalog: return "catalog"
        case .tags: return "tags"
        case .manifest: return "manifest"
        case .blob: return "blob"
        case .uploads: return "uploads"
        case .upload: return "upload"
        case .referrers: return "referrers"
        }
    }

    enum Failure: Error, Equatable {
        case invalidName(String)
        case noRoute
    }

    /// Names may hold slashes, so the endpoint is recognised by the path's last components, found from the
    /// end without splitting the whole path (this runs for every request). Indices and comparisons work on
    /// the UTF-8 bytes: Character-level `Substring` work (grapheme breaking) costs more than the rest.
    static func parse(_ path: Substring) -> Result<Route, Failure> {
        let bytes = path.utf8
        guard bytes.starts(with: "/v2".utf8), bytes.count == 3 || bytes[bytes.index(bytes.startIndex, offsetBy: 3)] == slash else {
            return .failure(.noRoute)
        }
        var first = bytes.index(bytes.startIndex, offsetBy: 3)
        while first < bytes.endIndex, bytes[first] == slash { first = bytes.index(after: first) }
        let rest = path[first...]
        let restBytes = rest.utf8
        if restBytes.isEmpty { return .success(.base) }
        if restBytes.elementsEqual("_catalog".utf8) { return .success(.catalog) }
        // Up to three trailing components: c1 is the last; boundaries[i] is where component i+1 starts.
        var boundaries: [Substring.Index] = []
        boundaries.reserveCapacity(3)
        var end = restBytes.endIndex
        while boundaries.count < 3, let found = restBytes[..<end].lastIndex(of: slash) {
            boundaries.append(restBytes.index(after: found))
            end = found
        }
        guard boundaries.count >= 2 else { return .failure(.noRoute) }
        let last = rest[boundaries[0]...]
        let penultimate = rest[boundaries[1]..<restBytes.index(before: boundaries[0])]
        let antepenultimate = boundaries.count == 3 ? rest[boundaries[2]..<restBytes.index(before: boundaries[1])] : nil

        /// The name is everything before the component that starts at `boundary`.
        func named(before boundary: Substring.Index, _ make: (RepositoryName) -> Route) -> Result<Route, Failure> {
            guard boundary > restBytes.index(after: restBytes.startIndex) else { return .failure(.noRoute) }
            let name = percentDecode(rest[..<restBytes.index(before: boundary)])
            guard let repository = RepositoryName(name) else { return .failure(.invalidName(name)) }
            return .success(make(repository))
        }

        if penultimate.utf8.elementsEqual("tags".utf8) && last.utf8.elementsEqual("list".utf8) {
            return named(before: boundaries[1]) { .tags($0) }
        }
        if let antepenultimate, antepenultimate.utf8.elementsEqual("blobs".utf8) && penultimate.utf8.elementsEqual("uploads".utf8) {
            let id = String(last)
            return last.isEmpty ? named(before: boundaries[2]) { .uploads($0) } : named(before: boundaries[2]) { .upload($0, id: id) }
        }
        if penultimate.utf8.elementsEqual("blobs".utf8) && last.utf8.elementsEqual("uploads".utf8) {
            return named(before: boundaries[1]) { .uploads($0) }
        }
        guard !last.isEmpty else { return .failure(.noRoute) }
        let reference = percentDecode(last)
        if penultimate.utf8.elementsEqual("blobs".utf8) { return named(before: boundaries[1]) { .blob($0, digest: reference) } }
        if penultimate.utf8.elementsEqual("manifests".utf8) { return named(before: boundaries[1]) { .manifest($0, reference: reference) } }
        if penultimate.utf8.elementsEqual("referrers".utf8) { return named(before: boundaries[1]) { .referrers($0, digest: reference) } }
        return .failure(.noRoute)
    }
}

private let slash = UInt8(ascii: "/")

/// Decodes `%XX` escapes; malformed escapes stay as they are.
func percentDecode(_ text: Substring) -> String {
    guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
    var out: [UInt8] = []
    var bytes = Array(text.utf8)[...]
    while let byte = bytes.popFirst() {
        if byte == 0x25, bytes.count >= 2, let high = hexValue(bytes[bytes.startIndex]), let low = hexValue(bytes[bytes.startIndex + 1]) {
            out.append(high << 4 | low)
            bytes = bytes.dropFirst(2)
        } else {
            out.append(byte)
        }
    }
    return String(decoding: out, as: UTF8.self)
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: return byte - 0x30
    case 0x41...0x46: return byte - 0x41 + 10
    case 0x61...0x66: return byte - 0x61 + 10
    default: return nil
    }
}

/// The query's parameters, percent-decoded; the first value wins.
struct QueryParameters {
    private var pairs: [(String, String)] = []

    init(_ query: Substring) {
        for part in query.split(separator: "&") {
            if let equals = part.firstIndex(of: "=") {
                pairs.append((percentDecode(part[..<equals]), percentDecode(part[part.index(after: equals)...])))
            } else {
                pairs.append((percentDecode(part), ""))
            }
        }
    }

    subscript(_ name: String) -> String? {
        pairs.first { $0.0 == name }?.1
    }
}
