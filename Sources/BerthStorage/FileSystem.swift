import CBerthShims
import Glibc

/// Thin POSIX wrappers that throw `StorageError` carrying the path and errno at the place of failure.
enum FileSystem {
    static func fail(_ operation: String, _ path: String) -> StorageError {
        let code = errno
        return code == ENOENT ? .notFound(path) : .system(operation: operation, path: path, errno: code)
    }

    static func makeDirectories(_ path: String) throws {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw fail("mkdir", path)
        }
        try makeDirectories(String(path[..<slash]))
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw fail("mkdir", path) }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func size(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func read(_ path: String, limit: Int = 64 * 1024 * 1024) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("stat", path) }
        let size = Int(info.st_size)
        guard size <= limit else { throw StorageError.corrupt("\(path): \(size) bytes, more than \(limit)") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, size - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw fail("read", path) }
            done += count
        }
        return bytes
    }

    static func readText(_ path: String) throws -> String {
        String(decoding: try read(path, limit: 4096), as: UTF8.self)
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        var done = 0
        while done < bytes.count {
            let count = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw fail("write", path) }
            done += count
        }
    }

    /// Writes `bytes` under a temporary name in the same directory, optionally flushes, then renames:
    /// readers see the old file or the new one, never a part.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], sync: Bool) throws {
        let directory = parent(path)
        try makeDirectories(directory)
        let temporary = temporaryName(for: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("create", temporary) }
        do {
            try bytes.withUnsafeBytes { try writeAll(fd, $0, at: 0, path: temporary) }
            if sync && fdatasync(fd) != 0 { throw fail("fdatasync", temporary) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        try rename(temporary, to: path, sync: sync)
    }

    static func rename(_ from: String, to: String, sync: Bool) throws {
        guard Glibc.rename(from, to) == 0 else {
            let error = fail("rename", from)
            unlink(from)
            throw error
        }
        if sync { syncDirectory(parent(to)) }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    /// A unique sibling name; safe from any thread and any process.
    static func temporaryName(for path: String) -> String {
        "\(parent(path))/\(StoragePath.temporaryPrefix)\(randomIdentifier())"
    }

    /// Removes the files `temporaryName` named under `root` that were last written longer than `age` seconds
    /// ago, and returns their paths. Such a file lives from its creation to its rename within one
    /// `writeAtomically`, which writes it at once and then at most flushes it, so one left that long belongs to
    /// a process that died; a writer that was only that slow fails its rename, and writes nothing half.
    static func removeTemporaries(under root: String, olderThan age: Double) -> [String] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var removed: [String] = []
        func walk(_ directory: String) {
            for (name, isDirectory) in entries(directory) {
                let file = directory + "/" + name
                if isDirectory {
                    walk(file)
                    continue
                }
                var info = stat()
                guard name.hasPrefix(StoragePath.temporaryPrefix), lstat(file, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
                      Double(now.tv_sec - info.st_mtim.tv_sec) > age, unlink(file) == 0 else { continue }
                removed.append(file)
            }
        }
        walk(root)
        return removed
    }

    /// 128 random bits as a lowercase UUID (upload ids look like registry:2's).
    static func randomIdentifier() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        _ = bytes.withUnsafeMutableBytes { berth_random_bytes($0.baseAddress, 16) }
        bytes[6] = (bytes[6] & 0x0f) | 0x40
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let hex = Digest.hex(bytes)
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    /// The names in a directory, without `.` and `..`; empty when it does not exist.
    static func list(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Names with whether each is a directory, from readdir's d_type (no stat per entry where the
    /// filesystem reports types).
    static func entries(_ path: String) -> [(name: String, isDirectory: Bool)] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var found: [(String, Bool)] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name != "." && name != ".." else { continue }
            let type = entry.pointee.d_type
            let isDirectory = type == UInt8(DT_UNKNOWN) ? isDirectory(path + "/" + name) : type == UInt8(DT_DIR)
            found.append((name, isDirectory))
        }
        return found
    }

    static func removeTree(_ path: String) {
        if unlink(path) == 0 || errno == ENOENT { return }
        for name in list(path) { removeTree(path + "/" + name) }
        rmdir(path)
    }
}
