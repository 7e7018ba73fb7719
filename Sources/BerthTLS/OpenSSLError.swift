import COpenSSL

/// OpenSSL's error queue as text, for the client (BerthUpstream) and the server (BerthHTTP) alike.
public enum OpenSSLError {
    /// The reason text of OpenSSL's oldest queued error, and the queue emptied (it is per thread).
    public static func reason() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "unknown error" }
        if let reason = ERR_reason_error_string(code) { return String(cString: reason) }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        return String(cString: text)
    }
}

/// A TLS setting that cannot be used, said with the file or value it names.
public struct TLSSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
