import Glibc

/// Leveled logging to stderr, one line per event. Loop-confined apart from `write`, which is atomic per line.
public enum LogLevel: Int, Comparable {
    case debug, info, warn, error

    public init?(name: String) {
        switch name.lowercased() {
        case "debug": self = .debug
        case "info": self = .info
        case "warn", "warning": self = .warn
        case "error", "fatal", "panic": self = .error
        default: return nil
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    var label: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }
}

/// `log.formatter`, as registry:2 names it: `text` (the default) or `json`, one object per line.
public enum LogFormat {
    case text, json

    public init?(name: String) {
        switch name.lowercased() {
        case "text": self = .text
        case "json": self = .json
        default: return nil
        }
    }
}

public enum Log {
    /// Unchecked: read for every request's access line, set once at start (a dynamic check each read).
    @exclusivity(unchecked) nonisolated(unsafe) public static var level: LogLevel = .info
    @exclusivity(unchecked) nonisolated(unsafe) public static var format = LogFormat.text
    /// This process's worker index (0 when it serves alone), in every JSON line; nil in a supervisor.
    nonisolated(unsafe) public static var worker: Int?

    public static func debug(_ message: @autoclosure () -> String) { emit(.debug, message) }
    public static func info(_ message: @autoclosure () -> String) { emit(.info, message) }
    public static func warn(_ message: @autoclosure () -> String) { emit(.warn, message) }
    public static func error(_ message: @autoclosure () -> String) { emit(.error, message) }

    public static func enabled(_ candidate: LogLevel) -> Bool { candidate >= level }

    private static func emit(_ candidate: LogLevel, _ message: () -> String) {
        guard candidate >= level else { return }
        switch format {
        case .text: write("\(timestamp()) \(candidate.label) \(message())\n")
        case .json: write(jsonLine(candidate, message(), fields: ""))
        }
    }

    /// A JSON line with more fields: `fields` is empty or `,"name":value…`, already encoded.
    static func emitJSON(_ candidate: LogLevel, _ message: String, fields: String) {
        guard candidate >= level else { return }
        write(jsonLine(candidate, message, fields: fields))
    }

    static func jsonLine(_ candidate: LogLevel, _ message: String, fields: String) -> String {
        let worker = worker.map { ",\"worker\":\($0)" } ?? ""
        return "{\"time\":\"\(timestamp())\",\"level\":\"\(candidate.label)\",\"msg\":\(JSONString.quoted(message))\(worker)\(fields)}\n"
    }

    private static func write(_ line: String) {
        line.utf8CString.withUnsafeBufferPointer { buffer in
            _ = Glibc.write(2, buffer.baseAddress, buffer.count - 1)
        }
    }

    /// RFC 3339 UTC time with milliseconds.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
