@testable import BerthJWT
import XCTest

/// base64url, the bounded JSON, ECDSA's two signature forms, scopes and the libtrust key id.
final class EncodingTests: XCTestCase {
    func test_base64url_round_trips_and_drops_padding() {
        for count in 0..<40 {
            let bytes = (0..<count).map { UInt8(($0 * 37 + 11) & 0xff) }
            let encoded = Base64URL.encode(bytes)
            XCTAssertFalse(encoded.contains("=") || encoded.contains("+") || encoded.contains("/"))
            XCTAssertEqual(Base64URL.decode(encoded.utf8), bytes)
            XCTAssertEqual(Base64URL.decodeStandard(Base64URL.encodeStandard(bytes).utf8), bytes)
        }
        XCTAssertEqual(Base64URL.decode("_-8".utf8), [0xff, 0xef])
        XCTAssertEqual(Base64URL.decode("YQ==".utf8), [0x61], "libtrust pads before decoding, so padding is accepted")
    }

    func test_base64url_refuses_what_no_encoder_writes() {
        for bad in ["A", "YQ=", "Y===", "a+b/", "YR", "ab c", "YQ==YQ==", "\u{e9}"] {
            XCTAssertNil(Base64URL.decode(bad.utf8), bad)
        }
        XCTAssertNil(Base64URL.decodeStandard("YQ".utf8), "x5c is standard base64 with its padding")
    }

    func test_json_parses_a_claim_set_and_refuses_malformed_or_deep_input() throws {
        let parsed = try JOSEJSON.parse(Array(#" {"a": [1, -2, 3.5e1, true, null, "\u00e9\ud83d\ude00\n"], "a": {"b": false}} "#.utf8))
        XCTAssertEqual(parsed["a"], .object([("b", .bool(false))]), "the last member of a name wins, as in Go")
        for bad in ["", "{", "{\"a\":}", "[1,]", "01", "1.", "\"\\x\"", "\"\u{1}\"", "{\"a\" 1}", "nul", "\"\\ud800\"", "[1] 2", "-"] {
            XCTAssertThrowsError(try JOSEJSON.parse(Array(bad.utf8)), bad)
        }
        XCTAssertThrowsError(try JOSEJSON.parse(Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)))
        XCTAssertThrowsError(try JOSEJSON.parse([0x22, 0xff, 0x22]), "not UTF-8")
        XCTAssertEqual(JOSEJSON.number("1700000000").int64, 1_700_000_000)
        XCTAssertNil(JOSEJSON.number("1.7e9").int64, "registry:2 reads exp into an int64")
        XCTAssertEqual(try JOSEJSON.parse(Array(JOSEJSON.string("a\"\\\n\u{1}é").serialized.utf8)), .string("a\"\\\n\u{1}é"))
    }

    func test_ecdsa_signatures_convert_between_jws_and_der() {
        var raw = [UInt8](repeating: 0, count: 64)
        raw[0] = 0x80 // r needs a leading zero in DER
        raw[63] = 1   // s is 1
        let der = ECDSASignature.der(fromRaw: raw, size: 32)!
        XCTAssertEqual(der[0], 0x30)
        XCTAssertEqual(Array(der[2..<5]), [0x02, 33, 0x00])
        XCTAssertEqual(Array(der.suffix(3)), [0x02, 1, 1])
        XCTAssertEqual(ECDSASignature.raw(fromDER: der, size: 32), raw)
        XCTAssertNil(ECDSASignature.der(fromRaw: Array(raw.dropLast()), size: 32))
        XCTAssertNil(ECDSASignature.raw(fromDER: der + [0], size: 32))
        XCTAssertNil(ECDSASignature.raw(fromDER: Array(der.dropLast()), size: 32))
        XCTAssertNil(ECDSASignature.raw(fromDER: [0x30, 0x06, 0x02, 0x01, 0x01, 0x03, 0x01, 0x01], size: 32))
    }

    func test_a_scope_splits_at_the_first_and_last_colon() {
        let scope = TokenAccess(scope: "repository:localhost:5000/team/app:pull,push")
        XCTAssertEqual(scope, TokenAccess(type: "repository", name: "localhost:5000/team/app", actions: ["pull", "push"]))
        XCTAssertEqual(scope?.scope, "repository:localhost:5000/team/app:pull,push")
        XCTAssertEqual(TokenAccess(scope: "registry:catalog:*")?.actions, ["*"])
        XCTAssertEqual(TokenAccess(scope: "repository:a:")?.actions, [])
        for bad in ["repository", "repository:a", ":a:pull", "repository::pull", "repository:a b:pull", String(repeating: "a:", count: 600)] {
            XCTAssertNil(TokenAccess(scope: bad), bad)
        }
        XCTAssertTrue(TokenAccess(type: "repository", name: "a", actions: ["*"]).grants(type: "repository", name: "a", action: "delete"))
        XCTAssertFalse(TokenAccess(type: "repository", name: "a", actions: ["pull"]).grants(type: "repository", name: "a", action: "push"))
        XCTAssertFalse(TokenAccess(type: "repository", name: "a", actions: ["pull"]).grants(type: "repository", name: "b", action: "pull"))
    }

    /// The ids were computed with Python's `cryptography` from the same certificates, as libtrust's
    /// `keyIDFromCryptoKey` does it (SHA-256 of the DER SubjectPublicKeyInfo, 240 bits, base32, groups of 4).
    func test_the_libtrust_key_id_matches_an_independent_computation() throws {
        let trust = try TokenTrust(rootCertificateBundlePEM: Fixtures.caCertificate + Fixtures.leafCertificate + Fixtures.rsaCertificate)
        XCTAssertEqual(trust.keyIDs, [
            "27BM:2MYV:443J:75GB:KHGD:TLIX:3AX7:YOV7:UAGV:L4YL:QRE2:2UWD",
            "4AWB:QQF3:YRBU:RWJY:NLY4:RBTQ:X6EL:IV7Y:7Q23:SYUL:DRWA:FXL4",
            "PPNC:HQSK:KOSQ:56J4:T7ZF:2TY4:XIVE:DE2C:AGPZ:Z7SO:OKMQ:7WF7",
        ])
        XCTAssertEqual(try TokenSigningKey(pem: Fixtures.leafKey).keyID, "PPNC:HQSK:KOSQ:56J4:T7ZF:2TY4:XIVE:DE2C:AGPZ:Z7SO:OKMQ:7WF7")
        XCTAssertEqual(try TokenSigningKey(pem: Fixtures.rsaKey).keyID, "4AWB:QQF3:YRBU:RWJY:NLY4:RBTQ:X6EL:IV7Y:7Q23:SYUL:DRWA:FXL4")
    }
}
