import Foundation

/// One request of a registry access trace, as `replay` reads it: when (seconds from the trace's first
/// record), the method, the request target and the bytes it moved. Two shapes are read, each record a JSON
/// object, the file JSON lines or one JSON array:
/// - `{"timestamp": 12.5, "method": "GET", "uri": "/v2/r/blobs/sha256:...", "size": 1234}` (timestamp in
///   seconds, or an RFC 3339 string);
/// - the IBM registry traces of "Improving Docker Registry Design based on Production Workload Analysis"
///   (FAST '18), as their trace player reads them: `timestamp` ("2017-06-20T07:00:00.123Z"),
///   `http.request.method`, `http.request.uri` (without the leading `/`), `http.response.written`.
public struct TraceRecord: Equatable {
    public var seconds: Double
    public var method: String
    public var uri: String
    public var size: Int

    public init(seconds: Double, method: String, uri: String, size: Int) {
        self.seconds = seconds
        self.method = method
        self.uri = uri
        self.size = size
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// The records of a trace file's text, sorted by time and made relative to the first.
    public static func parse(_ text: String) throws -> [TraceRecord] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var objects: [Any] = []
        if trimmed.hasPrefix("[") {
            guard let array = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [Any] else {
                throw Invalid(description: "not a JSON array of records")
            }
            objects = array
        } else {
            for (number, line) in trimmed.split(separator: "\n").enumerated() where !line.allSatisfy(\.isWhitespace) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
                    throw Invalid(description: "line \(number + 1): not JSON")
                }
                objects.append(object)
            }
        }
        var records = try objects.enumerated().map { index, object -> TraceRecord in
            guard let fields = object as? [String: Any], let record = TraceRecord(fields) else {
                throw Invalid(description: "record \(index + 1): needs timestamp, method, uri and size (or the IBM trace's fields)")
            }
            return record
        }
        records.sort { $0.seconds < $1.seconds }
        let first = records.first?.seconds ?? 0
        for index in records.indices { records[index].seconds -= first }
        return records
    }

    init?(_ fields: [String: Any]) {
        guard let method = (fields["method"] ?? fields["http.request.method"]) as? String,
              let uri = (fields["uri"] ?? fields["http.request.uri"]) as? String,
              let time = fields["timestamp"].flatMap(TraceRecord.seconds(of:)) else { return nil }
        let size = (fields["size"] ?? fields["http.response.written"]) as? NSNumber
        self.init(seconds: time, method: method.uppercased(), uri: uri.hasPrefix("/") ? uri : "/" + uri, size: max(0, size?.intValue ?? 0))
    }

    static func seconds(of value: Any) -> Double? {
        if let number = value as? NSNumber { return number.doubleValue }
        guard let text = value as? String else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }

    /// What the request was, read from its target: a blob or a manifest read, a blob upload, or other.
    public enum Kind: Equatable {
        case blobRead, manifestRead, blobUpload, manifestPush, other
    }

    public var kind: Kind {
        let isRead = method == "GET" || method == "HEAD"
        // The IBM traces record a push as one PUT naming the blob; an upload's POST and PATCHes are left out.
        if uri.contains("/blobs/") && method == "PUT" { return .blobUpload }
        if uri.contains("/blobs/uploads") { return .other }
        if uri.contains("/blobs/") { return isRead ? .blobRead : .other }
        if uri.contains("/manifests/") { return isRead ? .manifestRead : method == "PUT" ? .manifestPush : .other }
        return .other
    }
}
