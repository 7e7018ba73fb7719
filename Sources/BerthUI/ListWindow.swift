/// One page of a sorted list, as the catalog pages (`n` and `last`), after a substring filter (`q`): the
/// items after `last`, at most `n` of them, and the `last` of the next page when there is one.
struct ListWindow<Item> {
    static var defaultLimit: Int { 50 }
    // A page of 200 rows renders in about 20 ms on the pool (swift-mustache, measured): the bound on one request's work.
    static var maxLimit: Int { 200 }

    let items: [Item]
    /// The key of the last item shown, when more follow.
    let nextLast: String?
    /// How many items match the filter, over all pages.
    let matching: Int

    /// `sorted` must be in ascending order of `key`. A limit that does not parse, or is out of range, is the default
    /// or the maximum: a page in a browser corrects a hand-edited URL rather than answering 400.
    init(sorted: [Item], key: (Item) -> String, query: String?, last: String?, limit: String?) {
        let needle = query.map { Array($0.lowercased().utf8) }.flatMap { $0.isEmpty ? nil : $0 }
        let matches = needle.map { needle in sorted.filter { Self.contains(key($0), needle) } } ?? sorted
        var start = matches.startIndex
        if let last, !last.isEmpty {
            // Binary search: the list is sorted, and 10,000 names should cost a few comparisons.
            var low = matches.startIndex, high = matches.endIndex
            while low < high {
                let middle = (low + high) / 2
                if key(matches[middle]) <= last { low = middle + 1 } else { high = middle }
            }
            start = low
        }
        let count = min(max(limit.flatMap { Int($0) } ?? Self.defaultLimit, 1), Self.maxLimit)
        let end = matches.index(start, offsetBy: count, limitedBy: matches.endIndex) ?? matches.endIndex
        items = Array(matches[start..<end])
        nextLast = end < matches.endIndex ? items.last.map(key) : nil
        matching = matches.count
    }

    /// Whether `text`, lowercased in ASCII, holds `needle` (lowercase UTF-8): a byte scan, since Foundation's
    /// `contains` took 10 ms for 10,000 names. Repository names and tags are lowercase ASCII by their grammar;
    /// other text matches byte for byte beyond ASCII.
    static func contains(_ text: String, _ needle: [UInt8]) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= needle.count else { return false }
            let first = needle[0]
            var start = 0
            while start + needle.count <= bytes.count {
                if Self.lower(bytes[start]) == first {
                    var offset = 1
                    while offset < needle.count && Self.lower(bytes[start + offset]) == needle[offset] { offset += 1 }
                    if offset == needle.count { return true }
                }
                start += 1
            }
            return false
        }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
    }
}
