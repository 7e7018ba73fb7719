@testable import BerthS3

/// What an S3-compatible store answers with: XML documents (listings, multipart answers, errors). The store is
/// reached over a network and may be anything that answers, so every reader of its answers takes any bytes.
extension FuzzTarget {
    /// The first byte picks the reader; the rest is the document. A document that parses reads back the same
    /// when written out again, never deeper than the depth limit; a listing never holds a negative size.
    static let s3XML = FuzzTarget(name: "s3-xml") { bytes in
        guard let selector = bytes.first else { return }
        let input = Array(bytes.dropFirst())
        switch selector % 3 {
        case 0:
            guard let root = try? S3XML.parse(input) else { return }
            require(S3XMLFuzzing.depth(root) <= S3XML.depthLimit, "parsed deeper than \(S3XML.depthLimit)")
            guard S3XMLFuzzing.isWritable(root) else { return }
            let written = Array(S3XMLFuzzing.written(root).utf8)
            let again = try? S3XML.parse(written)
            require(again == root, "does not read back as written: \(String(decoding: written, as: UTF8.self))")
        case 1:
            guard let page = try? S3Client.listPage(input) else { return }
            require(page.objects.allSatisfy { $0.size >= 0 }, "a listed size below zero")
            if let token = page.nextContinuationToken { require(!token.isEmpty, "an empty continuation token") }
        default:
            let status = 300 + Int(selector) % 300
            _ = S3Error.from(status: status, body: input).description
        }
    }
}

enum S3XMLFuzzing {
    static func depth(_ element: S3XMLElement) -> Int {
        1 + (element.children.map(depth).max() ?? 0)
    }

    /// Names a start tag can hold again: not empty, not read as markup (`<!`, `<?`) inside an element.
    static func isWritable(_ element: S3XMLElement) -> Bool {
        guard let first = element.name.utf8.first, first != UInt8(ascii: "!"), first != UInt8(ascii: "?") else {
            return false
        }
        return element.children.allSatisfy(isWritable)
    }

    /// The element as XML: its text first (escaped), then its children; the reader joins an element's text pieces,
    /// so this is what any document that parsed to `element` reads as.
    static func written(_ element: S3XMLElement) -> String {
        "<\(element.name)>" + S3Client.escaped(element.text) + element.children.map(written).joined() + "</\(element.name)>"
    }
}
