import BerthJWT
import Glibc

/// The built-in issuer's signing key on disk (`auth.builtin.key`): a PEM private key (EC P-256 or RSA, as
/// `openssl genpkey` writes it). A missing file is created with a new P-256 key (PKCS#8, mode 0600, its
/// directory made 0700), as registry:2 creates a missing htpasswd file: at start, by the supervisor, so that
/// every worker signs with the same key. Tokens name the key by its libtrust id (`kid`), which registry:2
/// derives from a certificate of the key in `auth.token.rootcertbundle`, so they verify there too.
public enum TokenKeyFile {
    static let key = "auth.builtin.key"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates the file when missing, then reads it: a key that cannot be used stops Berth with one message.
    /// Returns whether it was created.
    @discardableResult
    public static func prepare(_ path: String) throws -> Bool {
        let created = try createIfMissing(path)
        _ = try load(path)
        return created
    }

    static func load(_ path: String) throws -> TokenSigningKey {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while bytes.count <= 1024 * 1024 {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw failure(path, String(cString: strerror(errno))) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        do { return try TokenSigningKey(pem: String(decoding: bytes, as: UTF8.self)) } catch {
            throw failure(path, "not a PEM private key (EC P-256/P-384 or RSA): \(error)")
        }
    }

    /// Written to a temporary name in the same directory, fsynced, then linked into place, so that a crash
    /// leaves no half-written key and a key made meanwhile by another process is kept.
    private static func createIfMissing(_ path: String) throws -> Bool {
        guard access(path, F_OK) != 0 else { return false }
        guard errno == ENOENT else { throw failure(path, String(cString: strerror(errno))) }
        let directory = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(path[..<$0]) } ?? "."
        do { try HtpasswdFile.makeDirectories(key: key, directory) } catch { throw Failure(description: "\(error)") }
        let pem: [UInt8]
        do { pem = Array(try TokenSigningKey.generateP256().pem.utf8) } catch { throw failure(path, "no key made: \(error)") }
        let temporary = "\(path).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure(path, "cannot create: \(String(cString: strerror(errno)))") }
        let written = write(fd, pem, pem.count) == pem.count && fsync(fd) == 0
        let writeError = errno
        close(fd)
        defer { unlink(temporary) }
        guard written else { throw failure(path, "cannot write: \(String(cString: strerror(writeError)))") }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw failure(path, "cannot create: \(String(cString: strerror(errno)))")
        }
        let directoryFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return true
    }

    private static func failure(_ path: String, _ why: String) -> Failure {
        Failure(description: "\(key) \(path): \(why)")
    }
}
