import CBerthShims
import CCrypt
import Glibc

/// bcrypt through libxcrypt's `crypt_r`: about 70 ms at cost 10 on this machine, so every call belongs on the
/// pool, never on the loop. Thread-safe: each call has its own `crypt_data` (32 KiB, too large for a pool
/// thread's stack to be a good place).
enum Bcrypt {
    /// The cost registry:2 (Go's `bcrypt.DefaultCost`) and `htpasswd -B` write.
    static let defaultCost = 10

    /// A hash no password is known to match, of the default cost: a user name the file does not hold is
    /// checked against it, so that the answer takes as long as for a user it holds (registry:2 does the same).
    static let unknownUserHash = "$2y$10$EuuxNgtOiCUtFOZkEvi.zOyxt9MhZPXqR6GyYL.Oc1wSjS4yC1OTa"

    /// Whether `password` matches `hash`. A hash that is not bcrypt matches nothing, as in registry:2.
    static func verify(_ password: [UInt8], hash: String) -> Bool {
        // crypt_r reads a C string: a password with a NUL in it would be checked cut short.
        guard HtpasswdEntries.isBcrypt(hash), !password.contains(0) else {
            _ = compute(password.filter { $0 != 0 }, setting: unknownUserHash)
            return false
        }
        guard let computed = compute(password, setting: hash) else { return false }
        return constantTimeEqual(Array(computed.utf8), Array(hash.utf8))
    }

    /// A new `$2y$` hash of `password` with a random salt, for the user registry:2 provisions in a missing file.
    static func hash(_ password: [UInt8], cost: Int = defaultCost) -> String? {
        var salt = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        var random = [UInt8](repeating: 0, count: 16)
        guard berth_random_bytes(&random, random.count) == 0 else { return nil }
        let made = random.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { crypt_gensalt_rn("$2y$", UInt(cost), $0.baseAddress, Int32($0.count), &salt, Int32(salt.count)) }
        }
        guard made != nil else { return nil }
        return compute(password, setting: String(cString: salt))
    }

    /// crypt_r's result, or nil where it reports a failure (a `*` string, or NULL).
    private static func compute(_ password: [UInt8], setting: String) -> String? {
        let data = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<crypt_data>.size, alignment: MemoryLayout<crypt_data>.alignment)
        defer { data.deallocate() }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        let state = data.assumingMemoryBound(to: crypt_data.self)
        let phrase = password.map { CChar(bitPattern: $0) } + [0]
        guard let result = crypt_r(phrase, setting, state) else { return nil }
        let text = String(cString: result)
        return text.hasPrefix("*") ? nil : text
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
