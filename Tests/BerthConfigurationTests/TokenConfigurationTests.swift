@testable import BerthConfiguration
import BerthRegistry
import Foundation
import XCTest

/// registry:2's `auth.token`: all four keys or a refusal naming the missing ones, the bundle read at load
/// (a refusal names the key and the file), one auth scheme only.
final class TokenConfigurationTests: XCTestCase {
    /// A self-signed P-256 certificate (openssl req -x509), as a rootcertbundle.
    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBfDCCASOgAwIBAgIURmipOMAgvEWD2L2BSayDJjhgXu4wCgYIKoZIzj0EAwIw
        EzERMA8GA1UEAwwIdG9rZW4tY2EwIBcNMjYxMjAxMTcwNjA0WhgPMjEyNjExMDcx
        NzA2MDRaMBMxETAPBgNVBAMMCHRva2VuLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0D
        AQcDQgAEyM5a7xxYk7cKWZl4d1OqxisiIBaxRetSVg+FkrUgTppJJIISmVsLia46
        ag774Jss1a9N4WOCxfiisHnQGRWX+KNTMFEwHQYDVR0OBBYEFCCQjrWtmcoEq7wJ
        7BRg7qbx09fZMB8GA1UdIwQYMBaAFCCQjrWtmcoEq7wJ7BRg7qbx09fZMA8GA1Ud
        EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgeELWQ4MrVH+XbWBhwS8Hkaqu
        Ots/2NEJ93/EDbP8B34CICiRRd6Trh53bmqLKS6De8NT9AicgMWxK+Y0ru71Nl8g
        -----END CERTIFICATE-----

        """

    var bundlePath = ""

    override func setUpWithError() throws {
        bundlePath = NSTemporaryDirectory() + "berth-token-bundle-\(getpid()).pem"
        try Self.certificate.write(toFile: bundlePath, atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        unlink(bundlePath)
    }

    func token(_ extra: String = "", bundle: String? = nil) -> String {
        "auth:\n  token:\n    realm: https://auth.example/token\n    service: registry\n    issuer: issuer\n"
            + "    rootcertbundle: \(bundle ?? bundlePath)\n" + extra
    }

    func test_the_four_keys_and_a_readable_bundle_set_token_auth() throws {
        let options = try XCTUnwrap(load(token()).registryOptions.tokenAuth)
        XCTAssertEqual(options.realm, .fixed("https://auth.example/token"))
        XCTAssertEqual(options.service, "registry")
        XCTAssertEqual(options.issuer, "issuer")
        XCTAssertEqual(options.trust.keyIDs, ["27BM:2MYV:443J:75GB:KHGD:TLIX:3AX7:YOV7:UAGV:L4YL:QRE2:2UWD"])
        XCTAssertNil(Configuration().registryOptions.tokenAuth)
        XCTAssertEqual(try load(token("    autoredirect: true\n")).registryOptions.tokenAuth?.realm, .sameHost(path: "/auth/token"))
        let fromVariables = try load(environment: ["REGISTRY_AUTH_TOKEN_REALM": "https://a/t", "REGISTRY_AUTH_TOKEN_SERVICE": "s",
                                                   "REGISTRY_AUTH_TOKEN_ISSUER": "i", "REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE": bundlePath])
        XCTAssertEqual(fromVariables.registryOptions.tokenAuth?.service, "s")
    }

    func test_a_missing_key_an_unreadable_bundle_jwks_or_two_schemes_are_refused_naming_the_key() {
        XCTAssertTrue(refusal(environment: ["REGISTRY_AUTH_TOKEN_REALM": "https://x"]).contains(
            "auth.token.service, auth.token.issuer, auth.token.rootcertbundle not set"))
        XCTAssertTrue(refusal(token(bundle: "/nonexistent/bundle.pem")).hasPrefix("test.yml: auth.token.rootcertbundle /nonexistent/bundle.pem: cannot be read"))
        let notCertificates = bundlePath + ".key"
        FileManager.default.createFile(atPath: notCertificates, contents: Data("not a certificate\n".utf8))
        defer { unlink(notCertificates) }
        XCTAssertTrue(refusal(token(bundle: notCertificates)).contains("auth.token.rootcertbundle \(notCertificates): no certificate"))
        XCTAssertTrue(refusal(token("    jwks: /keys.json\n")).hasPrefix("test.yml: auth.token.jwks: Berth reads the issuer's keys"))
        XCTAssertTrue(refusal(token("  htpasswd: {realm: R, path: /etc/htpasswd}\n")).contains("auth.htpasswd and auth.token are both set"))
    }
}
