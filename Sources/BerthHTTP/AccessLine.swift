import CLibUV

/// One request's access-log line, in the text format the tests and operators read today or as JSON fields.
/// Built only when info is logged; the text line costs what it cost before (JSON may cost more).
struct AccessLine {
    var client: String
    var method: String
    var target: String
    /// nil: the client went away before the answer (an upload it aborted mid-body).
    var status: Int?
    var bytesSent: Int64
    var bytesReceived: Int64
    var micros: UInt64
    var userAgent: String?
    var note: (key: StaticString, value: StaticString)?

    func write() {
        switch Log.format {
        case .text: Log.info(text)
        case .json: Log.emitJSON(.info, status == nil ? "aborted" : "access", fields: jsonFields)
        }
    }

    /// `127.0.0.1:5678 "GET /v2/" 200 2 1616us`; an abort says so and what arrived of the body.
    var text: String {
        guard let status else {
            return "\(client) \"\(method) \(target)\" aborted \(bytesSent) \(micros)us after \(bytesReceived) bytes received"
        }
        return "\(client) \"\(method) \(target)\" \(status) \(bytesSent) \(micros)us"
    }

    /// `,"method":…` for `Log.jsonLine`. An aborted request has status 499, nginx's "client closed request".
    var jsonFields: String {
        var out = ",\"method\":\(JSONString.quoted(method)),\"path\":\(JSONString.quoted(Self.redactingCredentials(target)))"
        out += ",\"status\":\(status ?? 499),\"bytes\":\(bytesSent),\"bytes_received\":\(bytesReceived)"
        out += ",\"duration\":\(micros / 1_000_000).\(Self.sixDigits(micros % 1_000_000))"
        out += ",\"client\":\(JSONString.quoted(client)),\"user_agent\":\(JSONString.quoted(userAgent ?? ""))"
        if let note { out += ",\(JSONString.quoted(note.key.description)):\(JSONString.quoted(note.value.description))" }
        if status == nil { out += ",\"aborted\":true" }
        return out
    }

    private static func sixDigits(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 6 - digits.utf8.count)) + digits
    }

    /// Query parameters that carry a credential (pre-signed URLs, tokens handed over in the query), whose
    /// values a shipped log must not hold. Nothing else in the target is changed.
    static let credentialParameters: Set<String> = [
        "access_token", "token", "refresh_token", "password", "passwd", "secret", "client_secret",
        "api_key", "apikey", "signature", "sig", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
        "x-goog-signature", "x-goog-credential",
    ]

    /// The target with the value of each credential parameter replaced by `REDACTED`.
    static func redactingCredentials(_ target: String) -> String {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
        let query = target[target.utf8.index(after: mark)...]
        var changed = false
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { part -> Substring in
            guard let equals = part.firstIndex(of: "="),
                  credentialParameters.contains(part[..<equals].lowercased()) else { return part }
            changed = true
            return part[...equals] + "REDACTED"
        }
        guard changed else { return target }
        return String(target[...mark]) + parts.joined(separator: "&")
    }
}

extension HTTPConnection {
    /// `status` nil: the client left before the answer was out.
    func logAccess(_ exchange: HTTPExchange, status: Int?) {
        guard Log.enabled(.info) else { return }
        AccessLine(client: remoteAddress, method: exchange.request.method.name, target: exchange.request.target,
                   status: status, bytesSent: exchange.bytesSent, bytesReceived: exchange.bytesReceived,
                   micros: (uv_hrtime() - exchange.startedAt) / 1000,
                   userAgent: Log.format == .json ? exchange.request.header("User-Agent") : nil,
                   note: exchange.logNote).write()
    }
}
