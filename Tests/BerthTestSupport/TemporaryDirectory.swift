import Foundation

/// A fresh directory per test, removed in its tearDown.
public enum TemporaryDirectory {
    /// A new, empty directory. `onDisk` puts it inside the package's `.build` (on the disk that holds the
    /// checkout), not in /tmp, which may be a tmpfs: tests that drop a file from the page cache or write
    /// with `O_DIRECT` need a real disk.
    public static func make(_ prefix: String, onDisk: Bool = false) throws -> String {
        let parent = onDisk ? packageDirectory + "/.build/" : NSTemporaryDirectory()
        let path = parent + "\(prefix)-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The checkout: this file is Tests/BerthTestSupport/TemporaryDirectory.swift.
    static let packageDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}
