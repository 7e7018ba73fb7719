@testable import BerthTLS
import XCTest

/// registry:2's (Go's) suite names in OpenSSL's spelling; versions as `minimumtls` names them.
final class TLSCipherSuitesTests: XCTestCase {
    func test_the_defaults_are_registry2s_default_list_and_only_aead() throws {
        let parsed = try TLSCipherSuites(names: TLSCipherSuites.defaultNames)
        XCTAssertEqual(parsed, TLSCipherSuites.defaults)
        for name in parsed.tls12.split(separator: ":") {
            XCTAssertTrue(name.contains("GCM") || name.contains("CHACHA20-POLY1305"), "\(name) is not AEAD")
            XCTAssertTrue(name.hasPrefix("ECDHE-"), "\(name) is not forward secret")
        }
        XCTAssertEqual(parsed.tls13, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384")
    }

    func test_go_names_map_to_openssl_names_in_the_given_order() throws {
        let suites = try TLSCipherSuites(names: ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "tls_ecdhe_rsa_with_aes_128_cbc_sha",
                                                 "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_AES_256_GCM_SHA384"])
        XCTAssertEqual(suites.tls12, "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA:ECDHE-RSA-CHACHA20-POLY1305")
        XCTAssertEqual(suites.tls13, "TLS_AES_256_GCM_SHA384")
    }

    func test_a_version_without_a_listed_suite_keeps_its_defaults() throws {
        XCTAssertEqual(try TLSCipherSuites(names: ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]).tls13, TLSCipherSuites.defaults.tls13)
        XCTAssertEqual(try TLSCipherSuites(names: ["TLS_AES_128_GCM_SHA256"]).tls12, TLSCipherSuites.defaults.tls12)
    }

    func test_unknown_rc4_and_3des_names_are_refused() {
        for name in ["TLS_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"] {
            XCTAssertThrowsError(try TLSCipherSuites(names: [name])) { XCTAssertTrue("\($0)".contains("not offered by OpenSSL 3"), "\($0)") }
        }
        XCTAssertThrowsError(try TLSCipherSuites(names: ["ECDHE-RSA-AES128-GCM-SHA256"]), "OpenSSL's own names are not registry:2's")
        XCTAssertThrowsError(try TLSCipherSuites(names: []))
    }

    func test_versions_are_registry2s_names_in_order() {
        XCTAssertEqual(TLSProtocolVersion(rawValue: "tls1.2"), .tls1_2)
        XCTAssertNil(TLSProtocolVersion(rawValue: "tls1.4"))
        XCTAssertEqual(TLSProtocolVersion.allCases.sorted(), [.tls1_0, .tls1_1, .tls1_2, .tls1_3])
    }

    func test_a_context_from_missing_files_names_the_file() {
        let settings = TLSServerSettings(certificate: "/nonexistent/cert.pem", key: "/nonexistent/key.pem")
        XCTAssertThrowsError(try TLSServerContext(settings)) {
            XCTAssertTrue("\($0)".hasPrefix("http.tls.certificate /nonexistent/cert.pem"), "\($0)")
        }
    }
}

/// The supervisor's ticket keys, as they travel to the workers.
final class TLSTicketKeysTests: XCTestCase {
    func test_random_keys_decode_to_80_bytes_and_differ_each_time() throws {
        let hex = TLSTicketKeys.random()
        XCTAssertEqual(try XCTUnwrap(TLSTicketKeys.decode(hex)).count, 80)
        XCTAssertNotEqual(hex, TLSTicketKeys.random())
    }

    func test_text_that_is_not_80_bytes_of_hex_is_refused() {
        XCTAssertNil(TLSTicketKeys.decode(""))
        XCTAssertNil(TLSTicketKeys.decode(String(repeating: "0", count: 158)))
        XCTAssertNil(TLSTicketKeys.decode(String(repeating: "g", count: 160)))
        XCTAssertEqual(TLSTicketKeys.decode(String(repeating: "ab", count: 80)), [UInt8](repeating: 0xab, count: 80))
    }
}
