/// A reader for the small XML documents S3 answers with (errors, ListObjectsV2, multipart answers): elements,
/// their text and children, nothing else. Built for hostile input: a size cap, a depth cap, no DTD (so no
/// entity of one's own can expand), only the five predefined entities and numeric references; attributes
/// and namespaces are read past, comments and the XML declaration skipped. Foundation's parser is not used.
public struct S3XMLElement: Equatable {
    /// The local name (any `prefix:` dropped).
    public var name: String
    /// The element's own character data, entities decoded, surrounding whitespace kept.
    public var text: String
    public var children: [S3XMLElement]

    public func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }
    public func children(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    /// The text of the first child called `name`.
    public subscript(name: String) -> String? { child(name)?.text }
}

public enum S3XMLError: Error, Equatable {
    case tooLarge(limit: Int)
    case tooDeep(limit: Int)
    case truncated
    case malformed(String)
}

public enum S3XML {
    public static let defaultSizeLimit = 16 << 20
    public static let depthLimit = 32

    public static func parse(_ bytes: [UInt8], sizeLimit: Int = defaultSizeLimit) throws -> S3XMLElement {
        guard bytes.count <= sizeLimit else { throw S3XMLError.tooLarge(limit: sizeLimit) }
        var reader = Reader(bytes: bytes)
        return try reader.document()
    }
}

private struct Reader {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func document() throws -> S3XMLElement {
        try skipProlog()
        guard peek() == UInt8(ascii: "<") else { throw S3XMLError.malformed("no root element") }
        let root = try element(depth: 1)
        try skipMisc()
        guard index == bytes.count else { throw S3XMLError.malformed("content after the root element") }
        return root
    }

    // MARK: Structure

    private mutating func element(depth: Int) throws -> S3XMLElement {
        guard depth <= S3XML.depthLimit else { throw S3XMLError.tooDeep(limit: S3XML.depthLimit) }
        try expect(UInt8(ascii: "<"))
        let name = try readName()
        var selfClosing = false
        // Attributes are read past, quoted values included, so a `>` inside one does not end the tag.
        while true {
            guard let byte = peek() else { throw S3XMLError.truncated }
            if byte == UInt8(ascii: ">") { index += 1; break }
            if byte == UInt8(ascii: "/") {
                index += 1
                try expect(UInt8(ascii: ">"))
                selfClosing = true
                break
            }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                index += 1
                guard let end = bytes[index...].firstIndex(of: byte) else { throw S3XMLError.truncated }
                index = end + 1
            } else if byte == UInt8(ascii: "<") {
                throw S3XMLError.malformed("'<' inside a tag")
            } else {
                index += 1
            }
        }
        var result = S3XMLElement(name: localName(name), text: "", children: [])
        if selfClosing { return result }
        var text: [UInt8] = []
        while true {
            guard let byte = peek() else { throw S3XMLError.truncated }
            if byte == UInt8(ascii: "<") {
                if starts(with: "</") {
                    index += 2
                    let closing = try readName()
                    skipSpaces()
                    try expect(UInt8(ascii: ">"))
                    guard closing == name else { throw S3XMLError.malformed("</\(closing)> closes <\(name)>") }
                    result.text = String(decoding: text, as: UTF8.self)
                    return result
                } else if starts(with: "<!--") {
                    try skipComment()
                } else if starts(with: "<![CDATA[") {
                    index += 9
                    guard let end = find("]]>") else { throw S3XMLError.truncated }
                    text.append(contentsOf: bytes[index..<end])
                    index = end + 3
                } else if starts(with: "<!") || starts(with: "<?") {
                    throw S3XMLError.malformed("markup declaration or processing instruction inside an element")
                } else {
                    result.children.append(try element(depth: depth + 1))
                }
            } else if byte == UInt8(ascii: "&") {
                try readReference(into: &text)
            } else {
                text.append(byte)
                index += 1
            }
        }
    }

    private mutating func skipProlog() throws {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        if starts(with: "<?xml") {
            guard let end = find("?>") else { throw S3XMLError.truncated }
            index = end + 2
        }
        try skipMisc()
        // A DTD could declare entities that expand without bound; S3 never sends one.
        if starts(with: "<!DOCTYPE") || starts(with: "<!doctype") { throw S3XMLError.malformed("a DTD is not accepted") }
    }

    private mutating func skipMisc() throws {
        while true {
            skipSpaces()
            if starts(with: "<!--") { try skipComment() } else { return }
        }
    }

    private mutating func skipComment() throws {
        index += 4
        guard let end = find("-->") else { throw S3XMLError.truncated }
        index = end + 3
    }

    // MARK: Tokens

    private mutating func readName() throws -> String {
        let start = index
        while let byte = peek(), !isSpace(byte), byte != UInt8(ascii: ">"), byte != UInt8(ascii: "/"),
              byte != UInt8(ascii: "<"), byte != UInt8(ascii: "="), byte != UInt8(ascii: "&") {
            index += 1
        }
        if index == bytes.count { throw S3XMLError.truncated }
        guard index > start else { throw S3XMLError.malformed("empty element name") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;`, `&#NNN;` and `&#xHH;`; any other name is an error.
    private mutating func readReference(into text: inout [UInt8]) throws {
        index += 1
        let start = index
        while let byte = peek(), byte != UInt8(ascii: ";") {
            guard index - start < 12 else { throw S3XMLError.malformed("unterminated entity reference") }
            index += 1
        }
        guard peek() == UInt8(ascii: ";") else { throw S3XMLError.truncated }
        let name = String(decoding: bytes[start..<index], as: UTF8.self)
        index += 1
        switch name {
        case "lt": text.append(UInt8(ascii: "<"))
        case "gt": text.append(UInt8(ascii: ">"))
        case "amp": text.append(UInt8(ascii: "&"))
        case "quot": text.append(UInt8(ascii: "\""))
        case "apos": text.append(UInt8(ascii: "'"))
        default:
            let scalarValue: UInt32?
            if name.hasPrefix("#x") || name.hasPrefix("#X") {
                scalarValue = UInt32(name.dropFirst(2), radix: 16)
            } else if name.hasPrefix("#") {
                scalarValue = UInt32(name.dropFirst(), radix: 10)
            } else {
                throw S3XMLError.malformed("unknown entity &\(name);")
            }
            guard let value = scalarValue, value != 0, let scalar = Unicode.Scalar(value) else {
                throw S3XMLError.malformed("invalid character reference &\(name);")
            }
            text.append(contentsOf: String(Character(scalar)).utf8)
        }
    }

    private func localName(_ name: String) -> String {
        guard let colon = name.lastIndex(of: ":") else { return name }
        return String(name[name.index(after: colon)...])
    }

    // MARK: Bytes

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func expect(_ byte: UInt8) throws {
        guard let next = peek() else { throw S3XMLError.truncated }
        guard next == byte else { throw S3XMLError.malformed("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    private func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private mutating func skipSpaces() {
        while let byte = peek(), isSpace(byte) { index += 1 }
    }

    private func starts(with text: String) -> Bool {
        let pattern = Array(text.utf8)
        return bytes.count - index >= pattern.count && bytes[index..<index + pattern.count].elementsEqual(pattern)
    }

    private func find(_ text: String) -> Int? {
        let pattern = Array(text.utf8)
        guard bytes.count >= pattern.count else { return nil }
        var position = index
        while position + pattern.count <= bytes.count {
            if bytes[position] == pattern[0], bytes[position..<position + pattern.count].elementsEqual(pattern) { return position }
            position += 1
        }
        return nil
    }
}
