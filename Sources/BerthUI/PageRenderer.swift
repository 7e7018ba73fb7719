/// Renders a parsed template with its fields into bytes: one pass over the tree, a stack of the sections'
/// values for lookups, and every `{{name}}` HTML-escaped (the five characters of `HTMLText`) as it is copied.
struct PageRenderer {
    let library: [String: PageTemplate]
    private(set) var out: [UInt8] = []
    private var stack: [PageValue] = []
    /// The blocks the templates under way replace, outermost first wins (Mustache's inheritance).
    private var blocks: [String: [PageTemplate.Node]] = [:]

    init(library: [String: PageTemplate], capacity: Int = 16 * 1024) {
        self.library = library
        out.reserveCapacity(capacity)
    }

    mutating func render(_ template: PageTemplate, _ fields: PageFields) {
        stack = [.fields(fields)]
        emit(template.nodes)
    }

    private mutating func emit(_ nodes: [PageTemplate.Node]) {
        for node in nodes {
            switch node {
            case .text(let bytes):
                out.append(contentsOf: bytes)
            case .value(let name, let escaped):
                guard let value = lookup(name) else { continue }
                switch value {
                case .text(let text): escaped ? escape(text) : out.append(contentsOf: text.utf8)
                case .flag(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
                case .list, .fields: break
                }
            case .section(let name, let body, let inverted):
                let value = lookup(name)
                if inverted {
                    if !(value?.isShown ?? false) { emit(body) }
                } else if let value, value.isShown {
                    if case .list(let items) = value {
                        for item in items {
                            stack.append(item)
                            emit(body)
                            stack.removeLast()
                        }
                    } else {
                        stack.append(value)
                        emit(body)
                        stack.removeLast()
                    }
                }
            case .block(let name, let body):
                emit(blocks[name] ?? body)
            case .parent(let name, let replacements):
                guard let parent = library[name] else { continue }
                let outer = blocks
                blocks = replacements.merging(outer) { _, outermost in outermost }
                emit(parent.nodes)
                blocks = outer
            }
        }
    }

    private func lookup(_ name: String) -> PageValue? {
        if name == "." { return stack.last }
        for value in stack.reversed() {
            if case .fields(let fields) = value, let found = fields[name] { return found }
        }
        return nil
    }

    private mutating func escape(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "<"): out.append(contentsOf: Self.lt)
            case UInt8(ascii: ">"): out.append(contentsOf: Self.gt)
            case UInt8(ascii: "&"): out.append(contentsOf: Self.amp)
            case UInt8(ascii: "\""): out.append(contentsOf: Self.quot)
            case UInt8(ascii: "'"): out.append(contentsOf: Self.apos)
            default: out.append(byte)
            }
        }
    }

    private static let lt = Array("&lt;".utf8), gt = Array("&gt;".utf8), amp = Array("&amp;".utf8)
    private static let quot = Array("&quot;".utf8), apos = Array("&#39;".utf8)
}
