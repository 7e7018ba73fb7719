@testable import BerthConfiguration
import BerthTLS
import XCTest

/// registry:2's `http.tls` keys, from the file and from REGISTRY_HTTP_TLS_* variables.
final class TLSConfigurationTests: XCTestCase {
    func test_no_tls_keys_is_plain_http() throws {
        XCTAssertNil(try load("http: {addr: ':5000'}").tlsSettings)
        XCTAssertNil(try load("http: {tls: {certificate: '', key: ''}}").tlsSettings)
    }

    func test_the_file_s_tls_section_is_read_as_registry2_writes_it() throws {
        let config = try load("""
            http:
              tls:
                certificate: /c.pem
                key: /c.key
                clientcas: [/ca1.pem, /ca2.pem]
                minimumtls: tls1.3
                ciphersuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
            """)
        let tls = try XCTUnwrap(config.tlsSettings)
        XCTAssertEqual(tls.certificate, "/c.pem")
        XCTAssertEqual(tls.key, "/c.key")
        XCTAssertEqual(tls.clientCAs, ["/ca1.pem", "/ca2.pem"])
        XCTAssertEqual(tls.minimumVersion, .tls1_3)
        XCTAssertEqual(tls.cipherSuites.tls12, "ECDHE-RSA-AES128-GCM-SHA256")
    }

    func test_registry2_variables_set_the_tls_keys() throws {
        let config = try load(environment: ["REGISTRY_HTTP_TLS_CERTIFICATE": "/c.pem", "REGISTRY_HTTP_TLS_KEY": "/c.key",
                                            "REGISTRY_HTTP_TLS_CLIENTCAS": "[/a.pem, /b.pem]", "BERTH_HTTP_TLS_MINIMUMTLS": "tls1.3"])
        let tls = try XCTUnwrap(config.tlsSettings)
        XCTAssertEqual(tls.clientCAs, ["/a.pem", "/b.pem"])
        XCTAssertEqual(tls.minimumVersion, .tls1_3)
        XCTAssertEqual(try load(environment: ["REGISTRY_HTTP_TLS_CERTIFICATE": "/c.pem", "REGISTRY_HTTP_TLS_KEY": "/c.key",
                                              "REGISTRY_HTTP_TLS_CLIENTCAS": "/one.pem"]).tlsSettings?.clientCAs, ["/one.pem"])
    }

    func test_half_a_tls_configuration_is_refused_never_served_plain() {
        XCTAssertTrue(refusal("http: {tls: {certificate: /c.pem}}").hasPrefix("test.yml: http.tls: Berth needs both"))
        XCTAssertTrue(refusal("http: {tls: {clientcas: [/ca.pem]}}").hasPrefix("test.yml: http.tls: Berth needs both"))
        XCTAssertTrue(refusal(environment: ["REGISTRY_HTTP_TLS_KEY": "/c.key"]).hasPrefix("test.yml: http.tls: Berth needs both"))
    }

    func test_unknown_versions_and_suites_and_letsencrypt_are_refused_naming_the_key() {
        XCTAssertTrue(refusal("http: {tls: {certificate: /c, key: /k, minimumtls: ssl3}}")
                        .hasPrefix("test.yml: http.tls.minimumtls: ssl3 is not tls1.0"))
        XCTAssertTrue(refusal("http: {tls: {certificate: /c, key: /k, ciphersuites: [TLS_FOO]}}")
                        .hasPrefix("test.yml: http.tls.ciphersuites: TLS_FOO is not a cipher suite"))
        XCTAssertTrue(refusal("http: {tls: {certificate: /c, key: /k, letsencrypt: {email: a@b.c}}}")
                        .contains("test.yml: http.tls.letsencrypt: Berth has no ACME client"))
        XCTAssertTrue(refusal(environment: ["REGISTRY_HTTP_TLS_LETSENCRYPT_EMAIL": "a@b.c"])
                        .hasPrefix("environment REGISTRY_HTTP_TLS_LETSENCRYPT_EMAIL: http.tls.letsencrypt: "))
    }
}
