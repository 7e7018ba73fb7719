import COpenSSL

/// The keys that seal session tickets, shared by every worker of a supervisor (nginx's workers share theirs by
/// forking; Berth's are exec'd, so the supervisor passes them down in the environment): a client that
/// resumes lands on any worker, as SO_REUSEPORT spreads connections. One set for the supervisor's life, so
/// tickets also outlive a reload.
public enum TLSTicketKeys {
    /// Set in a worker's environment: the keys, in hex.
    public static let variable = "BERTH_TLS_TICKET_KEYS"
    /// OpenSSL 3's SSL_CTRL_SET_TLSEXT_TICKET_KEYS takes a 16-byte name, a 32-byte HMAC key, a 32-byte AES key.
    static let length = 80

    /// Fresh keys, in hex.
    public static func random() -> String {
        var keys = [UInt8](repeating: 0, count: length)
        guard RAND_bytes(&keys, Int32(length)) == 1 else { return "" }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: keys.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// The keys of `hex`, or nil when it is not 80 bytes of hex.
    public static func decode(_ hex: String) -> [UInt8]? {
        let text = Array(hex.utf8)
        guard text.count == 2 * length else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            default: return nil
            }
        }
        var keys: [UInt8] = []
        for index in stride(from: 0, to: text.count, by: 2) {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            keys.append(high << 4 | low)
        }
        return keys
    }
}
