@testable import BerthJWT
import XCTest

/// Signing and verifying as registry:2 does: iss, aud, exp/nbf with leeway, kid against the bundle, x5c chains.
final class JSONWebTokenTests: XCTestCase {
    static let now: Int64 = 1_800_000_000

    func claims(expiresAt: Int64 = now + 300, notBefore: Int64 = now - 10, audience: [String] = ["registry"]) -> TokenClaims {
        TokenClaims(issuer: "issuer", subject: "alice", audience: audience, expiresAt: expiresAt, notBefore: notBefore,
                    issuedAt: Self.now, id: "1", access: [TokenAccess(type: "repository", name: "team/app", actions: ["pull"])])
    }

    func verify(_ token: String, trust: TokenTrust, issuer: String = "issuer", service: String = "registry", now: Int64 = now) throws -> TokenClaims {
        try JSONWebToken.verify(token, trust: trust, issuer: issuer, service: service, now: now, leeway: JSONWebToken.defaultLeeway)
    }

    func rejection(_ body: () throws -> Any) -> TokenRejection.Reason? {
        do {
            _ = try body()
            return nil
        } catch let rejection as TokenRejection {
            return rejection.reason
        } catch {
            XCTFail("not a TokenRejection: \(error)")
            return nil
        }
    }

    func test_a_generated_key_signs_what_its_public_key_verifies() throws {
        let key = try TokenSigningKey.generateP256()
        XCTAssertEqual(key.algorithm, "ES256")
        let token = try JSONWebToken.sign(claims(), with: key)
        XCTAssertEqual(try verify(token, trust: TokenTrust(keys: [key.publicKey])), claims())
        let reread = try TokenSigningKey(pem: key.pem)
        XCTAssertTrue(key.pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        XCTAssertEqual(reread.keyID, key.keyID)
        XCTAssertEqual(try verify(JSONWebToken.sign(claims(), with: reread), trust: TokenTrust(keys: [key.publicKey])), claims())
        XCTAssertEqual(rejection { try self.verify(token, trust: TokenTrust(keys: [try TokenSigningKey.generateP256().publicKey])) }, .untrustedKey)
    }

    /// Tokens PyJWT signed (ES256 with the leaf's key, RS256 with an RSA key, `aud` as a list): a kid alone is matched
    /// against the keys of the bundle's certificates, as registry:2 does.
    func test_tokens_signed_by_pyjwt_verify_by_kid_against_the_bundle() throws {
        let bundle = try TokenTrust(rootCertificateBundlePEM: Fixtures.leafCertificate + Fixtures.rsaCertificate)
        for token in [Fixtures.pyjwtES256, Fixtures.pyjwtRS256] {
            let claims = try verify(token, trust: bundle, issuer: "test-issuer", service: "test-service")
            XCTAssertEqual(claims.subject, "alice")
            XCTAssertEqual(claims.access, [TokenAccess(type: "repository", name: "team/app", actions: ["pull", "push"])])
        }
        XCTAssertEqual(try verify(Fixtures.pyjwtRS256, trust: bundle, issuer: "test-issuer", service: "test-service").audience, ["other", "test-service"])
        let caOnly = try TokenTrust(rootCertificateBundlePEM: Fixtures.caCertificate)
        XCTAssertEqual(rejection { try self.verify(Fixtures.pyjwtES256, trust: caOnly, issuer: "test-issuer", service: "test-service") }, .untrustedKey,
                       "kid matches the bundle's own keys, not keys the bundle's CAs signed")
        var tampered = Array(Fixtures.pyjwtES256.utf8)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        XCTAssertEqual(rejection { try self.verify(String(decoding: tampered, as: UTF8.self), trust: bundle, issuer: "test-issuer", service: "test-service") },
                       .badSignature)
    }

    func test_rs256_signs_and_an_algorithm_the_key_does_not_use_is_refused() throws {
        let key = try TokenSigningKey(pem: Fixtures.rsaKey)
        XCTAssertEqual(key.algorithm, "RS256")
        let trust = TokenTrust(keys: [key.publicKey])
        let token = try JSONWebToken.sign(claims(), with: key)
        XCTAssertEqual(try verify(token, trust: trust), claims())
        let parts = token.split(separator: ".")
        let es256Header = Base64URL.encode(Array(#"{"alg":"ES256","kid":"\#(key.keyID)"}"#.utf8))
        XCTAssertEqual(rejection { try self.verify("\(es256Header).\(parts[1]).\(parts[2])", trust: trust) }, .badSignature)
        let noneHeader = Base64URL.encode(Array(#"{"alg":"none","kid":"\#(key.keyID)"}"#.utf8))
        XCTAssertEqual(rejection { try self.verify("\(noneHeader).\(parts[1]).\(parts[2])", trust: trust) }, .unsupportedAlgorithm)
        let hs256Header = Base64URL.encode(Array(#"{"alg":"HS256","kid":"\#(key.keyID)"}"#.utf8))
        XCTAssertEqual(rejection { try self.verify("\(hs256Header).\(parts[1]).\(parts[2])", trust: trust) }, .unsupportedAlgorithm)
    }

    func test_issuer_audience_and_times_are_checked_with_registry2s_leeway() throws {
        let key = try TokenSigningKey.generateP256()
        let trust = TokenTrust(keys: [key.publicKey])
        let token = try JSONWebToken.sign(claims(), with: key)
        XCTAssertEqual(rejection { try self.verify(token, trust: trust, issuer: "other") }, .wrongIssuer)
        XCTAssertEqual(rejection { try self.verify(token, trust: trust, service: "other") }, .wrongAudience)
        XCTAssertEqual(rejection { try self.verify(token, trust: trust, now: Self.now + 300 + 61) }, .expired)
        XCTAssertNoThrow(try verify(token, trust: trust, now: Self.now + 300 + 60))
        XCTAssertEqual(rejection { try self.verify(token, trust: trust, now: Self.now - 10 - 61) }, .notYetValid)
        XCTAssertNoThrow(try verify(token, trust: trust, now: Self.now - 10 - 60))
        let extreme = try JSONWebToken.sign(claims(expiresAt: .max, notBefore: .min), with: key)
        XCTAssertNoThrow(try verify(extreme, trust: trust), "no overflow at the ends of the range")
        let noAudience = try JSONWebToken.sign(claims(audience: []), with: key)
        XCTAssertEqual(rejection { try self.verify(noAudience, trust: trust) }, .wrongAudience)
    }

    /// x5c: leaf first, verified up to a certificate of the bundle, the leaf's key checks the signature.
    func test_an_x5c_chain_to_the_bundle_is_trusted_and_one_to_another_root_is_not() throws {
        let leafKey = try TokenSigningKey(pem: Fixtures.leafKey)
        let token = try x5cToken(key: leafKey, chain: [Fixtures.leafCertificate])
        let byCA = try TokenTrust(rootCertificateBundlePEM: Fixtures.caCertificate)
        XCTAssertEqual(try verify(token, trust: byCA), claims())
        XCTAssertEqual(try verify(x5cToken(key: leafKey, chain: [Fixtures.leafCertificate, Fixtures.caCertificate]), trust: byCA), claims())
        XCTAssertEqual(try verify(token, trust: TokenTrust(rootCertificateBundlePEM: Fixtures.leafCertificate)), claims(),
                       "any bundle certificate is an anchor, as for Go's x509 roots")
        XCTAssertEqual(rejection { try self.verify(token, trust: TokenTrust(rootCertificateBundlePEM: Fixtures.rsaCertificate)) }, .untrustedKey)
        XCTAssertEqual(rejection { try self.verify(token, trust: TokenTrust(keys: [leafKey.publicKey])) }, .untrustedKey,
                       "raw keys alone do not verify chains")
        let wrongSigner = try x5cToken(key: TokenSigningKey.generateP256(), chain: [Fixtures.leafCertificate])
        XCTAssertEqual(rejection { try self.verify(wrongSigner, trust: byCA) }, .badSignature)
        // Remembered either way: the same chain again gives the same answer, the signature is still checked.
        XCTAssertEqual(try verify(token, trust: byCA), claims())
        let byRSA = try TokenTrust(rootCertificateBundlePEM: Fixtures.rsaCertificate)
        for _ in 0..<2 { XCTAssertEqual(rejection { try self.verify(token, trust: byRSA) }, .untrustedKey) }
    }

    func test_malformed_tokens_are_refused_without_a_crash() throws {
        let key = try TokenSigningKey.generateP256()
        let trust = TokenTrust(keys: [key.publicKey])
        let token = try JSONWebToken.sign(claims(), with: key)
        let parts = token.split(separator: ".").map(String.init)
        let header = #"{"alg":"ES256","kid":"\#(key.keyID)"}"#
        func encoded(_ json: String) -> String { Base64URL.encode(Array(json.utf8)) }
        let bad = [
            "", ".", "..", "a.b.c", parts[0] + "." + parts[1], parts[0] + "." + parts[1] + ".", token + ".x",
            encoded("[]") + "." + parts[1] + "." + parts[2],
            parts[0] + "." + encoded(#"{"exp":"soon"}"#) + "." + parts[2],
            parts[0] + "." + encoded(#"{"aud":[1]}"#) + "." + parts[2],
            parts[0] + "." + encoded(#"{"access":[{"type":1}]}"#) + "." + parts[2],
            parts[0] + "." + encoded(#"{"access":{}}"#) + "." + parts[2],
            encoded(#"{"alg":"ES256","x5c":["!!"]}"#) + "." + parts[1] + "." + parts[2],
            encoded(#"{"alg":"ES256","x5c":[]}"#) + "." + parts[1] + "." + parts[2],
            encoded(#"{"alg":"ES256","x5c":["AAAA"]}"#) + "." + parts[1] + "." + parts[2],
            encoded(#"{"alg":"ES256","kid":7}"#) + "." + parts[1] + "." + parts[2],
            encoded(#"{"alg":"ES256","jwk":{"kty":"EC"}}"#) + "." + parts[1] + "." + parts[2],
            encoded(#"{"alg":"ES256"}"#) + "." + parts[1] + "." + parts[2],
            encoded(header) + "." + parts[1] + "." + Base64URL.encode([UInt8](repeating: 1, count: 63)),
            String(repeating: "a", count: JSONWebToken.maxTokenBytes + 1),
        ]
        for token in bad {
            XCTAssertNotNil(rejection { try self.verify(token, trust: trust) }, token)
        }
    }

    func test_a_bundle_without_certificates_or_with_garbage_is_refused() {
        XCTAssertThrowsError(try TokenTrust(rootCertificateBundlePEM: ""))
        XCTAssertThrowsError(try TokenTrust(rootCertificateBundlePEM: Fixtures.leafKey))
        XCTAssertThrowsError(try TokenTrust(rootCertificateBundlePEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
        XCTAssertThrowsError(try TokenSigningKey(pem: Fixtures.caCertificate))
        XCTAssertNoThrow(try TokenTrust(rootCertificateBundlePEM: Fixtures.caCertificate + Fixtures.caCertificate), "a duplicate is harmless")
    }

    /// A token with an x5c header, as an external issuer (docker_auth, Harbor) writes it.
    func x5cToken(key: TokenSigningKey, chain: [String]) throws -> String {
        let certificates = chain.map { pem in
            pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        }
        let header = JOSEJSON.object([("alg", .string(key.algorithm)), ("x5c", .array(certificates.map { .string($0) }))])
        let input = Base64URL.encode(Array(header.serialized.utf8)) + "." + Base64URL.encode(Array(claims().json.serialized.utf8))
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }
}
