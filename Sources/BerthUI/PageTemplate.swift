/// One template of `Templates/*.mustache`, parsed once at start into a tree. The subset of Mustache the pages
/// use: `{{name}}` (HTML-escaped), `{{{name}}}` and `{{&name}}` (not escaped: the server's own SVG), `{{.}}`,
/// sections `{{#name}}`/`{{^name}}`, comments `{{! }}`, and inheritance: `{{<layout}}` with blocks
/// `{{$content}}...{{/content}}` that replace the layout's own. Standalone lines of section, block and comment
/// tags are dropped, as the Mustache spec says. Names resolve from the innermost section's fields outward.
struct PageTemplate: Sendable {
    indirect enum Node: Sendable {
        case text([UInt8])
        case value(String, escaped: Bool)
        case section(String, [Node], inverted: Bool)
        /// A block with its default content (in a layout) or its replacement (under a `{{<parent}}`).
        case block(String, [Node])
        case parent(String, blocks: [String: [Node]])
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let template: String
        let problem: String
        var description: String { "template \(template): \(problem)" }
    }

    let nodes: [Node]

    init(_ source: String, named name: String) throws {
        let tokens = Self.droppingStandaloneLines(try Self.tokens(Array(source.utf8), named: name))
        var position = 0
        nodes = try Self.nodes(tokens, &position, closing: nil, named: name)
        guard position == tokens.count else { throw SyntaxError(template: name, problem: "unexpected close tag") }
    }

    // MARK: Parsing

    enum Token {
        case text([UInt8])
        /// The sigil (`#`, `^`, `/`, `<`, `$`, `!`, `&`, `{`, or 0 for a plain value) and the trimmed name.
        case tag(UInt8, String)
    }

    static func tokens(_ bytes: [UInt8], named name: String) throws -> [Token] {
        var tokens: [Token] = []
        var index = 0, textStart = 0
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        while index + 1 < bytes.count {
            guard bytes[index] == open, bytes[index + 1] == open else { index += 1; continue }
            if index > textStart { tokens.append(.text(Array(bytes[textStart..<index]))) }
            var start = index + 2
            let triple = start < bytes.count && bytes[start] == open
            if triple { start += 1 }
            let closer: [UInt8] = triple ? [close, close, close] : [close, close]
            guard let end = Self.find(closer, in: bytes, from: start) else { throw SyntaxError(template: name, problem: "unclosed tag") }
            var inner = bytes[start..<end]
            var sigil: UInt8 = triple ? open : 0
            if !triple, let first = inner.first, "#^/<$!&".utf8.contains(first) {
                sigil = first
                inner = inner.dropFirst()
            }
            let trimmed = String(decoding: inner, as: UTF8.self).trimmingSpaces
            guard sigil == UInt8(ascii: "!") || !trimmed.isEmpty else { throw SyntaxError(template: name, problem: "empty tag") }
            tokens.append(.tag(sigil, trimmed))
            index = end + closer.count
            textStart = index
        }
        if textStart < bytes.count { tokens.append(.text(Array(bytes[textStart...]))) }
        return tokens
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0], bytes[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    /// A line holding only one section, block, parent or comment tag (and blanks) leaves nothing in the output.
    /// Decided on the original tokens, then applied: a text between two such lines loses its first line's rest
    /// (through the newline) and its last line's indentation.
    static func droppingStandaloneLines(_ tokens: [Token]) -> [Token] {
        let newline = UInt8(ascii: "\n")
        func blank(_ bytes: ArraySlice<UInt8>) -> Bool { bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d } }
        var dropLeading = [Int](repeating: 0, count: tokens.count), dropTrailing = dropLeading
        for (index, token) in tokens.enumerated() {
            guard case .tag(let sigil, _) = token, "#^/<$!".utf8.contains(sigil) else { continue }
            var before = true, beforeDrop = 0
            if index > 0 {
                guard case .text(let text) = tokens[index - 1] else { continue }
                if let last = text.lastIndex(of: newline) {
                    before = blank(text[(last + 1)...])
                    beforeDrop = text.count - last - 1
                } else {
                    before = index == 1 && blank(text[...])
                    beforeDrop = text.count
                }
            }
            var after = true, afterDrop = 0
            if index + 1 < tokens.count {
                guard case .text(let text) = tokens[index + 1] else { continue }
                if let first = text.firstIndex(of: newline) {
                    after = blank(text[..<first])
                    afterDrop = first + 1
                } else {
                    after = index + 2 == tokens.count && blank(text[...])
                    afterDrop = text.count
                }
            }
            guard before, after else { continue }
            if index > 0 { dropTrailing[index - 1] = beforeDrop }
            if index + 1 < tokens.count { dropLeading[index + 1] = afterDrop }
        }
        return tokens.enumerated().map { index, token in
            guard case .text(let text) = token, dropLeading[index] + dropTrailing[index] > 0 else { return token }
            let end = max(dropLeading[index], text.count - dropTrailing[index])
            return .text(Array(text[dropLeading[index]..<end]))
        }
    }

    static func nodes(_ tokens: [Token], _ position: inout Int, closing: String?, named name: String) throws -> [Node] {
        var nodes: [Node] = []
        while position < tokens.count {
            let token = tokens[position]
            position += 1
            switch token {
            case .text(let bytes):
                if !bytes.isEmpty { nodes.append(.text(bytes)) }
            case .tag(let sigil, let tag):
                switch sigil {
                case UInt8(ascii: "/"):
                    guard tag == closing else { throw SyntaxError(template: name, problem: "{{/\(tag)}} closes \(closing.map { "{{#\($0)}}" } ?? "nothing")") }
                    return nodes
                case UInt8(ascii: "!"):
                    break
                case UInt8(ascii: "#"), UInt8(ascii: "^"):
                    nodes.append(.section(tag, try Self.nodes(tokens, &position, closing: tag, named: name), inverted: sigil == UInt8(ascii: "^")))
                case UInt8(ascii: "$"):
                    nodes.append(.block(tag, try Self.nodes(tokens, &position, closing: tag, named: name)))
                case UInt8(ascii: "<"):
                    // Under a parent only its block definitions count.
                    var blocks: [String: [Node]] = [:]
                    for case .block(let block, let body) in try Self.nodes(tokens, &position, closing: tag, named: name) { blocks[block] = body }
                    nodes.append(.parent(tag, blocks: blocks))
                default:
                    nodes.append(.value(tag, escaped: sigil == 0))
                }
            }
        }
        guard closing == nil else { throw SyntaxError(template: name, problem: "{{#\(closing!)}} is not closed") }
        return nodes
    }

    /// The parents this template names, checked against the library at start.
    var parents: [String] {
        func walk(_ nodes: [Node]) -> [String] {
            nodes.flatMap { node -> [String] in
                switch node {
                case .parent(let name, let blocks): return [name] + blocks.values.flatMap(walk)
                case .section(_, let body, _), .block(_, let body): return walk(body)
                case .text, .value: return []
                }
            }
        }
        return walk(nodes)
    }
}

private extension String {
    var trimmingSpaces: String {
        let bytes = utf8.drop { $0 == 0x20 }.reversed().drop { $0 == 0x20 }.reversed()
        return String(decoding: Array(bytes), as: UTF8.self)
    }
}
