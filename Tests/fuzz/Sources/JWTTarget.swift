@testable import BerthJWT

/// What a client hands the token gate: a Bearer token (any bytes), and the pieces it is read with.
extension FuzzTarget {
    /// The first byte picks the reader; the rest is the input. A token never verifies unless signed by the trusted
    /// key (no input here is); every reader that accepts its input gives what its writer reads back the same.
    static let jwt = FuzzTarget(name: "jwt") { bytes in
        guard let selector = bytes.first else { return }
        let input = Array(bytes.dropFirst())
        switch selector & 3 {
        case 0:
            let text = String(decoding: input, as: UTF8.self)
            if let claims = try? JSONWebToken.verify(text, trust: JWTFuzzing.trust, issuer: "fuzz", service: "fuzz",
                                                     now: 1_800_000_000, leeway: 60) {
                // Only a token the key signed verifies: the corpus holds one, and a mutation may leave it whole.
                require(claims.issuer == "fuzz" && claims.audience.contains("fuzz"), "verified claims of another issuer")
            }
            if let bundle = try? TokenTrust(rootCertificateBundlePEM: text) { _ = bundle.keyIDs }
        case 1:
            if let value = try? JOSEJSON.parse(input) {
                let again = try? JOSEJSON.parse(Array(value.serialized.utf8))
                require(again == value, "JSON does not read back as written: \(value.serialized)")
                _ = TokenClaims(json: value)
            }
        case 2:
            if let decoded = Base64URL.decode(input) {
                require(Base64URL.decode(Base64URL.encode(decoded).utf8) == decoded, "base64url round trip")
                require(decoded.count * 4 <= input.count * 3, "\(decoded.count) bytes out of \(input.count) symbols")
            }
            _ = Base64URL.decodeStandard(input)
        default:
            if let raw = ECDSASignature.raw(fromDER: input, size: 32) {
                require(raw.count == 64, "a raw P-256 signature of \(raw.count) bytes")
                let der = ECDSASignature.der(fromRaw: raw, size: 32)
                require(der.flatMap { ECDSASignature.raw(fromDER: $0, size: 32) } == raw, "DER round trip")
            }
            if let access = TokenAccess(scope: String(decoding: input, as: UTF8.self)) {
                let again = TokenAccess(scope: access.scope)
                require(again?.type == access.type && again?.name == access.name, "scope round trip: \(access.scope)")
            }
        }
    }
}

/// The trust of the `jwt` target: one P-256 certificate as the bundle, so its key is trusted by kid and as an x5c anchor.
enum JWTFuzzing {
    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBJjCBzQIUJN49s7GDbtpzJDggis9YUr8MN60wCgYIKoZIzj0EAwIwEzERMA8G
        A1UEAwwIdG9rZW4tY2EwIBcNMjYxMjAxMTcwNjA1WhgPMjEyNjExMDcxNzA2MDVa
        MBcxFTATBgNVBAMMDHRva2VuLXNpZ25lcjBZMBMGByqGSM49AgEGCCqGSM49AwEH
        A0IABCNEGoPdWggBsCJiIvrumsYfTDyNntxyjXxblJ1kkjO4iV+BFHjqTe2vUNqb
        txtSjmI/IOFYvwnZ3qOU1fqymnUwCgYIKoZIzj0EAwIDSAAwRQIgN+h1dcM4zs6L
        DaByH6aOFl5kdvGVdzybQUBUWN3e3+oCIQD39D4U/YfIn041BlSWA4DS9rNHRx0j
        1DIVP3WBnPtqzA==
        -----END CERTIFICATE-----
        """
    static let trust = try! TokenTrust(rootCertificateBundlePEM: certificate + "\n")
}
