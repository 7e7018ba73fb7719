/// Header fields as http-parser's callbacks deliver them: a name and a value, either of which may come in
/// pieces across reads. One for request heads (RequestHeadReader) and response heads (the upstream client's
/// ResponseParser); buffers keep their capacity from one message to the next.
public struct HeaderAccumulator {
    public private(set) var fields: [(name: String, value: String)] = []
    private var name: [UInt8] = []
    private var value: [UInt8] = []
    private var inValue = false
    /// RFC 9112 §5.1: a server must refuse a field name that is not a token; a client takes what it gets.
    private let requiresTokenNames: Bool

    public init(requiresTokenNames: Bool) {
        self.requiresTokenNames = requiresTokenNames
    }

    public mutating func reset() {
        fields.removeAll(keepingCapacity: true)
        name.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        inValue = false
    }

    /// A piece of a field name; a name after a value completes the field before it. False when that field's
    /// name is refused.
    public mutating func appendName(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if inValue {
            guard completeField() else { return false }
            inValue = false
        }
        name.append(contentsOf: bytes)
        return true
    }

    public mutating func appendValue(_ bytes: UnsafeRawBufferPointer) {
        inValue = true
        value.append(contentsOf: bytes)
    }

    /// The head is complete: completes the last field. False when its name is refused.
    public mutating func finish() -> Bool {
        guard inValue || !name.isEmpty else { return true }
        inValue = false
        return completeField()
    }

    /// The fields, leaving none behind.
    public mutating func takeFields() -> [(name: String, value: String)] {
        defer { fields = [] }
        return fields
    }

    private mutating func completeField() -> Bool {
        if requiresTokenNames, !HTTPRequestHead.isFieldName(name) { return false }
        fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        name.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        return true
    }
}
