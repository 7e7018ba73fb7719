@testable import BerthRegistry

/// What a client or an operator hands the htpasswd gate: an `Authorization` value, an htpasswd file.
extension FuzzTarget {
    /// The first byte picks the reader; the rest is the input. A user read from either holds no colon, and a
    /// decoded value is never longer than three quarters of its base64.
    static let htpasswd = FuzzTarget(name: "htpasswd") { bytes in
        guard let selector = bytes.first else { return }
        let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
        if selector & 1 == 0 {
            if let credentials = BasicCredentials(authorization: text) {
                require(!credentials.user.utf8.contains(UInt8(ascii: ":")), "user \(credentials.user) holds a colon")
            }
            let symbols = Array(bytes.dropFirst())
            if let decoded = BasicCredentials.base64Decoded(symbols[...]) {
                require(decoded.count * 4 <= symbols.count * 3, "\(decoded.count) bytes out of \(symbols.count) symbols")
            }
        } else if let entries = try? HtpasswdEntries(parsing: text) {
            for (user, hash) in entries.hashes {
                require(!user.utf8.contains(UInt8(ascii: ":")), "user \(user) holds a colon")
                _ = HtpasswdEntries.isBcrypt(hash)
            }
            _ = entries.usersWithoutBcrypt
        }
    }
}
