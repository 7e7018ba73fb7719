@testable import BerthS3
import XCTest

/// Signature V4 against AWS's published vectors: the SigV4 test suite (AKIDEXAMPLE, 20150830T123600Z,
/// us-east-1, service "service") and the S3 "GET object" example of the S3 SigV4 documentation.
final class SignatureV4Tests: XCTestCase {
    private let suite = SignatureV4(
        credentials: S3Credentials(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")
    private let suiteDate = AmzDate("20150830T123600Z")!
    private let vanillaHeaders = [(name: "Host", value: "example.amazonaws.com"), (name: "X-Amz-Date", value: "20150830T123600Z")]

    private func suiteAuthorization(_ signedHeaders: String, _ signature: String) -> String {
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    func test_get_vanilla() {
        let request = SignatureV4.Request(method: "GET", path: "/", headers: vanillaHeaders)
        XCTAssertEqual(SignatureV4.canonicalRequest(request), """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        XCTAssertEqual(suite.stringToSign(canonicalRequest: SignatureV4.canonicalRequest(request), date: suiteDate), """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """)
        XCTAssertEqual(suite.authorization(request, date: suiteDate),
                       suiteAuthorization("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))
    }

    func test_get_vanilla_query_order_key_sorts_by_value_for_one_name() {
        let request = SignatureV4.Request(method: "GET", path: "/", query: [("Param1", "value2"), ("Param1", "Value1")],
                                          headers: vanillaHeaders)
        XCTAssertEqual(SignatureV4.canonicalRequest(request).split(separator: "\n", omittingEmptySubsequences: false)[2],
                       "Param1=Value1&Param1=value2")
        XCTAssertEqual(suite.stringToSign(canonicalRequest: SignatureV4.canonicalRequest(request), date: suiteDate)
            .split(separator: "\n").last, "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89")
        XCTAssertEqual(suite.signature(request, date: suiteDate), "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")
    }

    func test_get_vanilla_query_order_key_case_sorts_by_name() {
        let request = SignatureV4.Request(method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")],
                                          headers: vanillaHeaders)
        XCTAssertEqual(suite.signature(request, date: suiteDate), "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    func test_query_escaping_keeps_unreserved_and_encodes_utf8() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        let plain = SignatureV4.Request(method: "GET", path: "/", query: [(unreserved, unreserved)], headers: vanillaHeaders)
        XCTAssertEqual(suite.signature(plain, date: suiteDate), "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")
        let utf8 = SignatureV4.Request(method: "GET", path: "/", query: [("\u{1234}", "bar")], headers: vanillaHeaders)
        XCTAssertEqual(SignatureV4.canonicalRequest(utf8).split(separator: "\n")[2], "%E1%88%B4=bar")
        XCTAssertEqual(suite.signature(utf8, date: suiteDate), "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")
        XCTAssertEqual(S3URIEncoding.encode("a b+c/d=e&f*", keepSlash: false), "a%20b%2Bc%2Fd%3De%26f%2A")
        XCTAssertEqual(S3URIEncoding.encode("dir/a b", keepSlash: true), "dir/a%20b")
    }

    func test_post_x_www_form_urlencoded_hashes_the_body() {
        let body = Array("Param1=value1".utf8)
        let hash = SigningCrypto.hex(SigningCrypto.sha256(body))
        XCTAssertEqual(hash, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e")
        let request = SignatureV4.Request(
            method: "POST", path: "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Host", "example.amazonaws.com"),
                      ("X-Amz-Date", "20150830T123600Z")],
            payloadHash: hash)
        XCTAssertEqual(suite.authorization(request, date: suiteDate),
                       suiteAuthorization("content-type;host;x-amz-date",
                                          "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"))
    }

    func test_header_values_are_trimmed_and_repeated_names_joined() {
        let request = SignatureV4.Request(method: "GET", path: "/", headers: [
            ("Host", "example.amazonaws.com"), ("My-Header1", "  a   b  "), ("my-header1", "c"), ("X-Amz-Date", "20150830T123600Z"),
        ])
        XCTAssertTrue(SignatureV4.canonicalRequest(request).contains("\nmy-header1:a b,c\n"))
        XCTAssertEqual(SignatureV4.signedHeaders(request), "host;my-header1;x-amz-date")
    }

    /// docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "GET Object".
    func test_s3_get_object_example() {
        let signer = SignatureV4(credentials: S3Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE",
                                                            secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                                 region: "us-east-1")
        let date = AmzDate("20130524T000000Z")!
        let request = SignatureV4.Request(method: "GET", path: "/test.txt", headers: [
            ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", SignatureV4.emptyPayloadHash), ("x-amz-date", "20130524T000000Z"),
        ])
        XCTAssertEqual(signer.stringToSign(canonicalRequest: SignatureV4.canonicalRequest(request), date: date), """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
        XCTAssertEqual(signer.authorization(request, date: date),
                       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                       + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                       + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    func test_unsigned_payload_is_signed_as_given() {
        let request = SignatureV4.Request(method: "PUT", path: "/b/k", headers: vanillaHeaders, payloadHash: SignatureV4.unsignedPayload)
        XCTAssertTrue(SignatureV4.canonicalRequest(request).hasSuffix("\nUNSIGNED-PAYLOAD"))
    }

    func test_amz_date_from_epoch_and_validation() {
        XCTAssertEqual(AmzDate(secondsSinceEpoch: 1_440_938_160).timestamp, "20150830T123600Z")
        XCTAssertEqual(AmzDate(secondsSinceEpoch: 1_440_938_160).day, "20150830")
        XCTAssertNil(AmzDate("2015-08-30T12:36:00Z"))
        XCTAssertNil(AmzDate("20150830T1236000"))
    }

    func test_credentials_never_describe_the_secret() {
        let credentials = S3Credentials(accessKey: "AKID", secretKey: "very-secret")
        XCTAssertFalse("\(credentials)".contains("very-secret"))
        XCTAssertFalse("\(suite)".contains("EXAMPLEKEY"))
        XCTAssertFalse(String(reflecting: suite).contains("EXAMPLEKEY"))
        var dumped = ""
        dump(credentials, to: &dumped)
        XCTAssertFalse(dumped.contains("very-secret"))
    }
}
