/// Header fields as http-parser's callbacks deliver them: a name and a value, either of which may come in
/// pieces across reads, appended to one byte buffer (HeaderFields). One for request heads (RequestHeadReader)
/// and response heads (the upstream client's ResponseParser); buffers keep their capacity from one message to
/// the next.
public struct HeaderAccumulator {
    public private(set) var fields = HeaderFields()
    /// Where the field being read starts, and its value (nil while its name is read).
    private var nameStart = 0
    private var valueStart: Int?
    /// RFC 9112 §5.1: a server must refuse a field name that is not a token; a client takes what it gets.
    private let requiresTokenNames: Bool

    public init(requiresTokenNames: Bool) {
        self.requiresTokenNames = requiresTokenNames
    }

    public mutating func reset() {
        fields.removeAll()
        nameStart = 0
        valueStart = nil
    }

    /// A piece of a field name; a name after a value completes the field before it. False when that field's
    /// name is refused.
    public mutating func appendName(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if valueStart != nil {
            guard completeField() else { return false }
        }
        fields.append(bytes)
        return true
    }

    public mutating func appendValue(_ bytes: UnsafeRawBufferPointer) {
        if valueStart == nil { valueStart = fields.byteCount }
        fields.append(bytes)
    }

    /// The head is complete: completes the last field. False when its name is refused.
    public mutating func finish() -> Bool {
        guard valueStart != nil || fields.byteCount > nameStart else { return true }
        return completeField()
    }

    /// The fields as Strings, leaving none behind.
    public mutating func takeFields() -> [(name: String, value: String)] {
        defer { reset() }
        return fields.strings
    }

    private mutating func completeField() -> Bool {
        let valueStart = valueStart ?? fields.byteCount
        if requiresTokenNames, !fields.isFieldName(nameStart..<valueStart) { return false }
        fields.addField(nameStart: nameStart, valueStart: valueStart)
        nameStart = fields.byteCount
        self.valueStart = nil
        return true
    }
}
