/// Builds request heads once per run (never per request on the fixed paths).
public struct RequestHead {
    /// `Host`, `User-Agent` and, with credentials, `Authorization`: the lines every request carries.
    public let commonLines: String

    public init(host: String, authorization: String?) {
        var lines = "Host: \(host)\r\nUser-Agent: berth-bench\r\n"
        if let authorization { lines += "Authorization: \(authorization)\r\n" }
        commonLines = lines
    }

    public func make(_ method: String, _ target: String, headers: [String] = [], contentLength: Int? = nil) -> [UInt8] {
        var text = "\(method) \(target) HTTP/1.1\r\n" + commonLines
        for header in headers { text += header + "\r\n" }
        if let contentLength { text += "Content-Length: \(contentLength)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }
}
