@testable import BerthS3
import XCTest

/// The XML reader on S3's answers and on hostile input: truncated, huge, deeply nested, entities.
final class S3XMLTests: XCTestCase {
    private func parse(_ text: String, limit: Int = S3XML.defaultSizeLimit) throws -> S3XMLElement {
        try S3XML.parse(Array(text.utf8), sizeLimit: limit)
    }

    func test_error_answer() throws {
        let root = try parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key></Error>
            """)
        XCTAssertEqual(root.name, "Error")
        XCTAssertEqual(root["Code"], "NoSuchKey")
        XCTAssertEqual(root["Key"], "a&b")
        XCTAssertEqual(S3Error.from(status: 404, body: Array("<Error><Code>NoSuchKey</Code></Error>".utf8)), .noSuchKey)
        XCTAssertEqual(S3Error.from(status: 403, body: Array("<Error><Code>SignatureDoesNotMatch</Code></Error>".utf8)),
                       .signatureDoesNotMatch)
        XCTAssertEqual(S3Error.from(status: 503, body: Array("<Error><Code>SlowDown</Code></Error>".utf8)),
                       .other(code: "SlowDown", status: 503))
        XCTAssertEqual(S3Error.from(status: 404, body: []), .noSuchKey, "a HEAD answer has no body")
        XCTAssertEqual(S3Error.from(status: 500, body: Array("<html>oops".utf8)), .other(code: "HTTP500", status: 500))
    }

    func test_list_objects_v2_page() throws {
        let page = try S3Client.listPage(Array("""
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name><Prefix>docker/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
              <Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
              <Contents><Key>docker/a b</Key><LastModified>2026-12-01T00:00:00.000Z</LastModified>
                <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
              <CommonPrefixes><Prefix>docker/registry/</Prefix></CommonPrefixes>
              <NextContinuationToken>tok/en==</NextContinuationToken>
            </ListBucketResult>
            """.utf8))
        XCTAssertEqual(page.objects, [.init(key: "docker/a b", size: 12, etag: "\"d41d8cd98f00b204e9800998ecf8427e\"")])
        XCTAssertEqual(page.commonPrefixes, ["docker/registry/"])
        XCTAssertEqual(page.nextContinuationToken, "tok/en==")
        XCTAssertThrowsError(try S3Client.listPage(Array("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>".utf8)))
        XCTAssertThrowsError(try S3Client.listPage(Array("<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>".utf8)))
        // A size below zero is no size an object has (Int64 parsing accepts the sign).
        XCTAssertThrowsError(try S3Client.listPage(Array("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>".utf8)))
    }

    func test_escaped_text_reads_back_even_before_a_combining_mark() throws {
        // "<\u{301}" is one Character; escaping by Character wrote the `<` raw and broke the document (found by the
        // s3-xml fuzz target).
        for text in ["<\u{301}k", "&\u{7EB}", "a>\u{300}\"", "plain", ""] {
            let root = try S3XML.parse(Array("<ETag>\(S3Client.escaped(text))</ETag>".utf8))
            XCTAssertEqual(root.text, text)
        }
    }

    func test_truncated_documents_are_refused_at_every_cut() {
        let whole = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult a=\"x>y\"><UploadId>abc&lt;</UploadId>"
            + "<!-- note --></InitiateMultipartUploadResult>"
        XCTAssertEqual(try parse(whole)["UploadId"], "abc<")
        let bytes = Array(whole.utf8)
        for cut in 0..<bytes.count {
            XCTAssertThrowsError(try S3XML.parse(Array(bytes[..<cut])), "cut at \(cut)")
        }
    }

    func test_huge_documents_are_refused_before_reading() {
        let huge = "<a>" + String(repeating: "x", count: 1 << 20) + "</a>"
        XCTAssertThrowsError(try parse(huge, limit: 1 << 16)) { XCTAssertEqual($0 as? S3XMLError, .tooLarge(limit: 1 << 16)) }
        XCTAssertEqual(try parse(huge).text.count, 1 << 20)
        XCTAssertEqual(S3Error.from(status: 500, body: Array(huge.utf8) + Array(huge.utf8)), .other(code: "HTTP500", status: 500))
    }

    func test_deep_nesting_is_refused() {
        let deep = String(repeating: "<a>", count: 100_000) + String(repeating: "</a>", count: 100_000)
        XCTAssertThrowsError(try parse(deep)) { XCTAssertEqual($0 as? S3XMLError, .tooDeep(limit: S3XML.depthLimit)) }
        let fine = String(repeating: "<a>", count: S3XML.depthLimit) + String(repeating: "</a>", count: S3XML.depthLimit)
        XCTAssertNoThrow(try parse(fine))
    }

    func test_entities_other_than_the_predefined_are_refused() throws {
        XCTAssertEqual(try parse("<a>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;</a>").text, "<>&\"'AB\u{1F600}")
        XCTAssertThrowsError(try parse("<a>&nbsp;</a>"))
        XCTAssertThrowsError(try parse("<a>&#0;</a>"))
        XCTAssertThrowsError(try parse("<a>&#xD800;</a>"), "a surrogate is no character")
        XCTAssertThrowsError(try parse("<a>&#99999999999;</a>"))
        XCTAssertThrowsError(try parse("<a>&amp</a>"))
        XCTAssertThrowsError(try parse("<a>&" + String(repeating: "x", count: 1000) + ";</a>"))
        // The billion laughs need a DTD, which is never read.
        XCTAssertThrowsError(try parse("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><a>&lol;</a>"))
        XCTAssertThrowsError(try parse("<a><!ENTITY x \"y\"></a>"))
    }

    func test_malformed_structure_is_refused() {
        for bad in ["", "text", "<a></b>", "<a><b></a></b>", "<a></a><b></b>", "<a></a>trailing", "<>x</>", "<a <b>",
                    "<a></a", "<a><?pi?></a>"] {
            XCTAssertThrowsError(try parse(bad), bad)
        }
        XCTAssertEqual(try parse("<a><b/><c x='1' y=\"2\"/><![CDATA[<raw>&]]></a>").text, "<raw>&")
        XCTAssertEqual(try parse("<s3:a xmlns:s3=\"u\"><s3:b>v</s3:b></s3:a>")["b"], "v")
    }
}
