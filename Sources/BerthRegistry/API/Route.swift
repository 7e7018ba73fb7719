import BerthStorage
import Glibc

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
    /// end without splitting the whole path (this runs for every request). The scan runs over the path's
    /// contiguous UTF-8 bytes with integer offsets and allocates nothing: `Substring.UTF8View` indexing and a
    /// small array of boundaries cost about a microsecond a request, more than the rest of routing.
    static func parse(_ path: Substring) -> Result<Route, Failure> {
        if let parsed = path.utf8.withContiguousStorageIfAvailable({ parse(path, bytes: $0) }) { return parsed }
        let native = String(path)  // a bridged or foreign string: made contiguous once
        return parse(native[...])
    }

    private static func parse(_ path: Substring, bytes: UnsafeBufferPointer<UInt8>) -> Result<Route, Failure> {
        let count = bytes.count
        guard count >= 3, bytes[0] == slash, bytes[1] == UInt8(ascii: "v"), bytes[2] == UInt8(ascii: "2"),
              count == 3 || bytes[3] == slash else {
            return .failure(.noRoute)
        }
        var first = 3
        while first < count, bytes[first] == slash { first += 1 }
        if first == count { return .success(.base) }
        func equals(_ start: Int, _ end: Int, _ word: StaticString) -> Bool {
            end - start == word.utf8CodeUnitCount && memcmp(bytes.baseAddress! + start, word.utf8Start, end - start) == 0
        }
        if equals(first, count, "_catalog") { return .success(.catalog) }
        // Up to three trailing components, each starting after a slash: last = [c1, count),
        // penultimate = [c2, c1 - 1), antepenultimate = [c3, c2 - 1).
        func slashIndex(before end: Int) -> Int? {
            var index = end - 1
            while index >= first {
                if bytes[index] == slash { return index }
                index -= 1
            }
            return nil
        }
        guard let slash1 = slashIndex(before: count), let slash2 = slashIndex(before: slash1) else { return .failure(.noRoute) }
        let c1 = slash1 + 1, c2 = slash2 + 1
        let c3 = slashIndex(before: slash2).map { $0 + 1 }
        let utf8 = path.utf8
        // Every cut is at a slash (ASCII) or an end, so each offset is a valid index of `path`.
        func text(_ start: Int, _ end: Int) -> Substring {
            path[utf8.index(utf8.startIndex, offsetBy: start)..<utf8.index(utf8.startIndex, offsetBy: end)]
        }
        /// `[start, end)` as a String, `%XX` decoded where the bytes hold a `%` at all.
        func decoded(_ start: Int, _ end: Int) -> String {
            memchr(bytes.baseAddress! + start, Int32(UInt8(ascii: "%")), end - start) == nil
                ? String(text(start, end)) : percentDecode(text(start, end))
        }
        /// The name is everything before the component that starts at `boundary`.
        func named(before boundary: Int, _ make: (RepositoryName) -> Route) -> Result<Route, Failure> {
            guard boundary > first + 1 else { return .failure(.noRoute) }
            let name = decoded(first, boundary - 1)
            guard let repository = RepositoryName(name) else { return .failure(.invalidName(name)) }
            return .success(make(repository))
        }

        if equals(c2, slash1, "tags") && equals(c1, count, "list") {
            return named(before: c2) { .tags($0) }
        }
        if let c3, equals(c3, slash2, "blobs") && equals(c2, slash1, "uploads") {
            let id = String(text(c1, count))
            return c1 == count ? named(before: c3) { .uploads($0) } : named(before: c3) { .upload($0, id: id) }
        }
        if equals(c2, slash1, "blobs") && equals(c1, count, "uploads") {
            return named(before: c2) { .uploads($0) }
        }
        guard c1 < count else { return .failure(.noRoute) }
        let kind = (blobs: equals(c2, slash1, "blobs"), manifests: equals(c2, slash1, "manifests"),
                    referrers: equals(c2, slash1, "referrers"))
        guard kind.blobs || kind.manifests || kind.referrers else { return .failure(.noRoute) }
        let reference = decoded(c1, count)
        if kind.blobs { return named(before: c2) { .blob($0, digest: reference) } }
        if kind.manifests { return named(before: c2) { .manifest($0, reference: reference) } }
        return named(before: c2) { .referrers($0, digest: reference) }
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
