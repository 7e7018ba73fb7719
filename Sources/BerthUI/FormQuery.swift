import Foundation

/// The query of a page's URL as a browser's form sends it (`q=a+b&n=50`): `+` is a space, `%XX` a byte.
struct FormQuery {
    private var pairs: [(String, String)] = []

    init(_ query: Substring) {
        for part in query.split(separator: "&") {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            pairs.append((Self.decode(pieces[0]), pieces.count > 1 ? Self.decode(pieces[1]) : ""))
        }
    }

    subscript(_ name: String) -> String? {
        pairs.first { $0.0 == name }?.1
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// `name=value&...` with every value percent-encoded, for links to the next page.
    static func encode(_ items: [(String, String)]) -> String {
        // ASCII only: `.alphanumerics` would leave other scripts' letters unencoded.
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/")
        return items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }
}
