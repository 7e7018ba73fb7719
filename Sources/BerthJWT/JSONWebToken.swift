/// Compact JWS tokens as docker's token spec and registry:2 use them (jwt.md): sign, and verify against a trust.
public enum JSONWebToken {
    /// Bounds on what a client sends: a token with a three-certificate x5c chain is about 5 KiB.
    public static let maxTokenBytes = 64 * 1024
    static let maxChainCertificates = 8
    /// registry:2's `Leeway` for exp and nbf.
    public static let defaultLeeway: Int64 = 60

    /// header {"typ":"JWT","alg":<the key's>,"kid":<the key's libtrust id>}.
    public static func sign(_ claims: TokenClaims, with key: TokenSigningKey) throws -> String {
        let header = JOSEJSON.object([("typ", .string("JWT")), ("alg", .string(key.algorithm)), ("kid", .string(key.keyID))])
        let signingInput = Base64URL.encode(Array(header.serialized.utf8)) + "." + Base64URL.encode(Array(claims.json.serialized.utf8))
        let signature = try key.sign(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// Checks, in registry:2's order, iss, aud (contains `service`), exp and nbf with `leeway` seconds, then the
    /// key (x5c chain to the bundle, else `kid` among the trusted keys; a `jwk` header is refused) and the signature.
    public static func verify(_ token: String, trust: TokenTrust, issuer: String, service: String,
                              now: Int64, leeway: Int64) throws -> TokenClaims {
        let parsed = try ParsedToken(token)
        let claims = parsed.claims
        guard claims.issuer == issuer else { throw TokenRejection(.wrongIssuer, "the token's issuer is not trusted") }
        guard claims.audience.contains(service) else { throw TokenRejection(.wrongAudience, "the token is not meant for this service") }
        guard now <= claims.expiresAt.addingReportingOverflow(leeway).partialValue || claims.expiresAt > Int64.max - leeway else {
            throw TokenRejection(.expired, "the token has expired")
        }
        guard now >= claims.notBefore.subtractingReportingOverflow(leeway).partialValue || claims.notBefore < Int64.min + leeway else {
            throw TokenRejection(.notYetValid, "the token is not valid yet")
        }
        let key: TokenPublicKey
        if let chain = parsed.chain {
            key = try trust.leafKey(of: chain, now: now)
        } else if parsed.hasJWK {
            throw TokenRejection(.untrustedKey, "a jwk header is not accepted; sign with kid or x5c")
        } else if let id = parsed.keyID {
            guard let known = trust.keys[id] else { throw TokenRejection(.untrustedKey, "the token is signed by an untrusted key") }
            key = known
        } else {
            throw TokenRejection(.untrustedKey, "the token names no signing key (kid or x5c)")
        }
        guard key.verifies(parsed.signature, of: parsed.signingInput, algorithm: parsed.algorithm) else {
            throw TokenRejection(.badSignature, "the token's signature does not verify")
        }
        return claims
    }
}

/// A compact JWS split and decoded, nothing verified yet.
struct ParsedToken {
    let algorithm: String
    let keyID: String?
    /// DER certificates of the x5c header, leaf first.
    let chain: [[UInt8]]?
    let hasJWK: Bool
    let claims: TokenClaims
    let signingInput: [UInt8]
    let signature: [UInt8]

    static let algorithms: Set<String> = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"]

    init(_ token: String) throws {
        let bytes = Array(token.utf8)
        guard bytes.count <= JSONWebToken.maxTokenBytes else { throw TokenRejection(.malformed, "the token is longer than 64 KiB") }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw TokenRejection(.malformed, "a token has three parts separated by '.'") }
        guard let headerBytes = Base64URL.decode(parts[0]), let header = try? JOSEJSON.parse(headerBytes), case .object = header else {
            throw TokenRejection(.malformed, "the token's header is not base64url JSON")
        }
        guard let claimBytes = Base64URL.decode(parts[1]), let claimJSON = try? JOSEJSON.parse(claimBytes),
              let claims = TokenClaims(json: claimJSON) else {
            throw TokenRejection(.malformed, "the token's claims are not base64url JSON of the registry token's claim set")
        }
        guard let signature = Base64URL.decode(parts[2]), !signature.isEmpty else {
            throw TokenRejection(.malformed, "the token has no base64url signature")
        }
        guard let algorithm = header["alg"]?.string, Self.algorithms.contains(algorithm) else {
            throw TokenRejection(.unsupportedAlgorithm, "the token's alg is not one of ES256, ES384, ES512, RS256, RS384, RS512")
        }
        switch header["kid"] {
        case nil, .null?: keyID = nil
        case .string(let id)?: keyID = id
        default: throw TokenRejection(.malformed, "the token's kid is not a string")
        }
        switch header["x5c"] {
        case nil, .null?: chain = nil
        case .array(let entries)?:
            guard !entries.isEmpty, entries.count <= JSONWebToken.maxChainCertificates else {
                throw TokenRejection(.malformed, "the token's x5c holds 1 to \(JSONWebToken.maxChainCertificates) certificates")
            }
            chain = try entries.map { entry in
                guard let text = entry.string, let der = Base64URL.decodeStandard(text.utf8), !der.isEmpty else {
                    throw TokenRejection(.malformed, "an x5c entry that is not base64 DER")
                }
                return der
            }
        default: throw TokenRejection(.malformed, "the token's x5c is not a list")
        }
        hasJWK = header["jwk"].map { $0 != .null } ?? false
        self.algorithm = algorithm
        self.claims = claims
        self.signature = signature
        signingInput = Array(bytes[..<(parts[0].count + 1 + parts[1].count)])
    }
}
