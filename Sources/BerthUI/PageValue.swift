/// What a page's template is given: text (escaped where the template says `{{name}}`), a flag, a list (a
/// section repeats over it) or named fields (a section looks names up in them first, then outward). Typed, so
/// the renderer resolves a name with one dictionary lookup per level and no dynamic casts: with swift-mustache
/// over `[String: Any]` those casts were 7-10 ms of a 100-layer manifest page.
enum PageValue {
    case text(String)
    case flag(Bool)
    case list([PageValue])
    case fields(PageFields)

    static func number(_ value: Int) -> PageValue { .text(String(value)) }
    static func texts(_ items: [String]) -> PageValue { .list(items.map(PageValue.text)) }

    /// A section renders for a true flag, a non-empty text or list and any fields.
    var isShown: Bool {
        switch self {
        case .text(let text): return !text.isEmpty
        case .flag(let flag): return flag
        case .list(let items): return !items.isEmpty
        case .fields: return true
        }
    }
}

typealias PageFields = [String: PageValue]

extension PageValue: ExpressibleByStringInterpolation, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    init(stringLiteral value: String) { self = .text(value) }
    init(booleanLiteral value: Bool) { self = .flag(value) }
    init(integerLiteral value: Int) { self = .number(value) }
    init(arrayLiteral elements: PageValue...) { self = .list(elements) }
    init(dictionaryLiteral elements: (String, PageValue)...) { self = .fields(PageFields(elements, uniquingKeysWith: { $1 })) }
}
