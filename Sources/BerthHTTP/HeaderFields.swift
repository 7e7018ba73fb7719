import Glibc

/// The header fields of one head as bytes: every name and value in one buffer, each field a pair of spans
/// into it, in the order received. A String is made only for a value somebody asks for: a String per name
/// and per value cost about 9,000 instructions a kept-alive request (bench/instructions.py, session 9).
/// Lookups compare names ignoring ASCII case (RFC 9110 §5.1). A value type: the buffers are shared with
/// the head that holds them, and copied only when the accumulator reuses them while a head is still alive.
public struct HeaderFields {
    struct Span {
        var nameStart: Int
        var nameCount: Int
        var valueStart: Int
        var valueCount: Int
    }

    private(set) var bytes: [UInt8] = []
    private(set) var spans: [Span] = []

    public init() {}

    /// The fields given as Strings (tests, heads made up by the server).
    public init(_ fields: [(name: String, value: String)]) {
        for field in fields {
            bytes.append(contentsOf: field.name.utf8)
            let valueStart = bytes.count
            bytes.append(contentsOf: field.value.utf8)
            spans.append(Span(nameStart: valueStart - field.name.utf8.count, nameCount: field.name.utf8.count,
                              valueStart: valueStart, valueCount: field.value.utf8.count))
        }
    }

    public var count: Int { spans.count }

    /// The value of the first field called `name`, or nil.
    public func value(_ name: String) -> String? {
        guard let index = firstIndex(name) else { return nil }
        return valueString(spans[index])
    }

    /// The values of every field called `name`, in order (`Accept` may come several times).
    public func values(_ name: String) -> [String] {
        var found: [String] = []
        for span in spans where nameIs(span, name) { found.append(valueString(span)) }
        return found
    }

    /// Every field as Strings, in order.
    public var strings: [(name: String, value: String)] {
        spans.map { span in
            (bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[span.nameStart..<span.nameStart + span.nameCount]), as: UTF8.self) },
             valueString(span))
        }
    }

    func firstIndex(_ name: String) -> Int? {
        for index in spans.indices where nameIs(spans[index], name) { return index }
        return nil
    }

    /// The head's own lookups (Content-Length, Transfer-Encoding, Expect), by a literal's bytes.
    func firstIndex(literal name: StaticString) -> Int? {
        let wanted = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for index in spans.indices where nameIs(spans[index], wanted) { return index }
        return nil
    }

    func lastIndex(literal name: StaticString) -> Int? {
        let wanted = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for index in spans.indices.reversed() where nameIs(spans[index], wanted) { return index }
        return nil
    }

    /// The value's bytes of field `index` for `body`, without copying.
    func withValue<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        let span = spans[index]
        return bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[span.valueStart..<span.valueStart + span.valueCount])) }
    }

    private func valueString(_ span: Span) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[span.valueStart..<span.valueStart + span.valueCount]), as: UTF8.self) }
    }

    private func nameIs(_ span: Span, _ name: String) -> Bool {
        var name = name
        guard span.nameCount == name.utf8.count else { return false }
        return name.withUTF8 { nameIs(span, $0) }
    }

    private func nameIs(_ span: Span, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        guard span.nameCount == wanted.count else { return false }
        return bytes.withUnsafeBufferPointer { all in
            for offset in 0..<span.nameCount where asciiLower(all[span.nameStart + offset]) != asciiLower(wanted[offset]) { return false }
            return true
        }
    }

    // MARK: Filled by HeaderAccumulator

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
    }

    var byteCount: Int { bytes.count }

    /// As bytes typed UInt8, so the append is one memcpy (a raw buffer is appended byte by byte).
    mutating func append(_ piece: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: piece.assumingMemoryBound(to: UInt8.self))
    }

    mutating func addField(nameStart: Int, valueStart: Int) {
        spans.append(Span(nameStart: nameStart, nameCount: valueStart - nameStart, valueStart: valueStart, valueCount: bytes.count - valueStart))
    }

    func isFieldName(_ range: Range<Int>) -> Bool {
        bytes.withUnsafeBufferPointer { HTTPRequestHead.isFieldName(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}
