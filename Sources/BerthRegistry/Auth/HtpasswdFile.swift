import CBerthShims
import Glibc

/// The htpasswd file on disk (`auth.htpasswd.path`): read, told apart from an edited copy by its stat identity,
/// and provisioned when missing as registry:2 does it.
public enum HtpasswdFile {
    /// The key messages name unless told another (`auth.builtin.htpasswd` reads the same kind of file).
    public static let defaultKey = "auth.htpasswd.path"

    /// What tells an edit (or a replacing rename) from the file last read: registry:2 compares the mtime alone.
    struct Identity: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modifiedSeconds: Int
        let modifiedNanoseconds: Int
    }

    /// Why the file cannot be used; the description names the key and the path.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static func identity(_ path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                        modifiedSeconds: info.st_mtim.tv_sec, modifiedNanoseconds: info.st_mtim.tv_nsec)
    }

    /// Reads and parses the file: small (a line per user), so a read on the loop is acceptable at most once a second.
    static func read(_ path: String, key: String = defaultKey) throws -> HtpasswdEntries {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "\(key) \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "\(key) \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
            guard bytes.count <= 64 * 1024 * 1024 else { throw Failure(description: "\(key) \(path): larger than 64 MiB") }
        }
        do {
            return try HtpasswdEntries(parsing: String(decoding: bytes, as: UTF8.self))
        } catch let invalid as HtpasswdEntries.Invalid {
            throw Failure(description: "\(key) \(path): \(invalid)")
        }
    }

    /// At start (and before a reload's workers): provisions a missing file, then reads it, so that a file that
    /// cannot be used stops Berth with one message, not with workers that fail one after another. Returns the
    /// password of the provisioned user, if the file was missing.
    public static func prepare(_ path: String, key: String = defaultKey) throws -> String? {
        let provisioned = try provisionIfMissing(path, key: key)
        _ = try read(path, key: key)
        return provisioned
    }

    /// registry:2 (2.8 and 3.0, `createHtpasswdFile`): a missing file is created, its directory made (0700), with
    /// one user `docker` whose random password (32 bytes, base64url) is written to the log, hashed with bcrypt at
    /// cost 10 in a file of mode 0600. Returns that password, or nil when the file exists.
    public static func provisionIfMissing(_ path: String, key: String = defaultKey) throws -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            close(fd)
            return nil
        }
        guard errno == ENOENT else { throw Failure(description: "\(key) \(path): \(String(cString: strerror(errno)))") }
        try makeDirectories(key: key, String(path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path[..<$0] } ?? "."))
        var secret = [UInt8](repeating: 0, count: 32)
        guard berth_random_bytes(&secret, secret.count) == 0 else { throw Failure(description: "\(key) \(path): no random bytes for a password") }
        let password = base64URL(secret)
        guard let hash = Bcrypt.hash(Array(password.utf8)) else {
            throw Failure(description: "\(key) \(path): bcrypt failed")
        }
        let out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw Failure(description: "\(key) \(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(out) }
        let line = Array("docker:\(hash)".utf8)
        guard write(out, line, line.count) == line.count, fsync(out) == 0 else {
            unlink(path)
            throw Failure(description: "\(key) \(path): cannot write: \(String(cString: strerror(errno)))")
        }
        return password
    }

    static func makeDirectories(key: String, _ directory: String) throws {
        guard !directory.isEmpty, access(directory, F_OK) != 0 else { return }
        if let slash = directory.utf8.lastIndex(of: UInt8(ascii: "/")), slash > directory.startIndex {
            try makeDirectories(key: key, String(directory[..<slash]))
        }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw Failure(description: "\(key): cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    private static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var group: UInt32 = 0
            for byte in chunk { group = group << 8 | UInt32(byte) }
            group <<= UInt32(8 * (3 - chunk.count))
            for position in 0...chunk.count { out.append(alphabet[Int(group >> UInt32(18 - 6 * position) & 63)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
