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

    /// Copies `head` to `destination` with `line` (a header line and its CRLF) after the request line.
    static func insert(_ line: [UInt8], into head: [UInt8], at destination: UnsafeMutableRawBufferPointer) {
        head.withUnsafeBytes { head in
            var end = 0
            while end + 1 < head.count, !(head[end] == 0x0d && head[end + 1] == 0x0a) { end += 1 }
            end = min(end + 2, head.count)
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: head[..<end]))
            line.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: destination[end...]).copyMemory(from: $0) }
            UnsafeMutableRawBufferPointer(rebasing: destination[(end + line.count)...]).copyMemory(from: UnsafeRawBufferPointer(rebasing: head[end...]))
        }
    }
}
