import BerthHTTP
import BerthStorage

/// `n` and `last` pagination with an RFC 5988 `Link` header (OCI dist-spec "Listing Tags", distribution catalog).
struct Page {
    let items: ArraySlice<String>
    let link: String?

    init(sorted all: [String], query: QueryParameters, path: Substring) throws {
        var start = all.startIndex
        if let last = query["last"], !last.isEmpty {
            start = all.firstIndex { $0 > last } ?? all.endIndex
        }
        guard let text = query["n"] else {
            items = all[start...]
            link = nil
            return
        }
        let limit: Int
        switch DecimalDigits.parse(text) {
        case .value(let value)?: limit = Int(value)
        // More than any list holds: all of it.
        case .tooLarge?: limit = .max
        case nil: throw RegistryError(.paginationInvalid, "n must be a non-negative integer")
        }
        let end = all.index(start, offsetBy: limit, limitedBy: all.endIndex) ?? all.endIndex
        items = all[start..<end]
        if end < all.endIndex, let lastItem = items.last {
            link = "<\(path)?n=\(limit)&last=\(lastItem)>; rel=\"next\""
        } else {
            link = nil
        }
    }

    var headers: [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json; charset=utf-8")]
        if let link { headers.append(("Link", link)) }
        return headers
    }
}
