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

    /// Names may hold slashes, so the endpoint is recognised by the path's last components.
    static func parse(_ path: Substring) -> Result<Route, Failure> {
        guard path == "/v2" || path.hasPrefix("/v2/") else { return .failure(.noRoute) }
        let rest = path.dropFirst(3).drop(while: { $0 == "/" })
        if rest.isEmpty { return .success(.base) }
        if rest == "_catalog" { return .success(.catalog) }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map { percentDecode($0) }
        let count = parts.count
        guard count >= 3 else { return .failure(.noRoute) }

        func named(_ nameCount: Int, _ make: (RepositoryName) -> Route) -> Result<Route, Failure> {
            let name = parts[..<nameCount].joined(separator: "/")
            guard let repository = RepositoryName(name) else { return .failure(.invalidName(name)) }
            return .success(make(repository))
        }

        let last = parts[count - 1], penultimate = parts[count - 2]
        if penultimate == "tags" && last == "list" { return named(count - 2) { .tags($0) } }
        if count >= 4 && parts[count - 3] == "blobs" && penultimate == "uploads" {
            return last.isEmpty ? named(count - 3) { .uploads($0) } : named(count - 3) { .upload($0, id: last) }
        }
        if penultimate == "blobs" && last == "uploads" { return named(count - 2) { .uploads($0) } }
        guard !last.isEmpty else { return .failure(.noRoute) }
        switch penultimate {
        case "blobs": return named(count - 2) { .blob($0, digest: last) }
        case "manifests": return named(count - 2) { .manifest($0, reference: last) }
        case "referrers": return named(count - 2) { .referrers($0, digest: last) }
        default: return .failure(.noRoute)
        }
    }
}

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
