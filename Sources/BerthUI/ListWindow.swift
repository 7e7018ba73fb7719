/// One page of a sorted list, as the catalog pages (`n` and `last`), after a substring filter (`q`): the
/// items after `last`, at most `n` of them, and the `last` of the next page when there is one.
struct ListWindow<Item> {
    static var defaultLimit: Int { 50 }
    static var maxLimit: Int { 1000 }

    let items: [Item]
    /// The key of the last item shown, when more follow.
    let nextLast: String?
    /// How many items match the filter, over all pages.
    let matching: Int

    /// `sorted` must be in ascending order of `key`. A limit that does not parse, or is out of range, is the default
    /// or the maximum: a page in a browser corrects a hand-edited URL rather than answering 400.
    init(sorted: [Item], key: (Item) -> String, query: String?, last: String?, limit: String?) {
        let needle = query.map { $0.lowercased() }.flatMap { $0.isEmpty ? nil : $0 }
        let matches = needle.map { needle in sorted.filter { key($0).lowercased().contains(needle) } } ?? sorted
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
}
