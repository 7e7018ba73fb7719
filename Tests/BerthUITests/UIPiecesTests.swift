import BerthStorage
@testable import BerthUI
import XCTest

final class ByteCountTests: XCTestCase {
    func test_sizes_use_binary_units_with_one_decimal_below_ten() {
        XCTAssertEqual(ByteCount.text(0), "0 B")
        XCTAssertEqual(ByteCount.text(1023), "1023 B")
        XCTAssertEqual(ByteCount.text(1024), "1.0 KiB")
        XCTAssertEqual(ByteCount.text(1536), "1.5 KiB")
        XCTAssertEqual(ByteCount.text(10 * 1024), "10 KiB")
        XCTAssertEqual(ByteCount.text(10 * 1024 - 1), "10 KiB")
        XCTAssertEqual(ByteCount.text(5 * 1024 * 1024 + 300 * 1024), "5.3 MiB")
        XCTAssertEqual(ByteCount.text(1024 * 1024 - 1), "1.0 MiB")
        XCTAssertEqual(ByteCount.text(3 << 40), "3.0 TiB")
        XCTAssertEqual(ByteCount.text(.max), "8.0 EiB")
        XCTAssertEqual(ByteCount.text(-5), "0 B")
    }
}

final class HTMLEscapingTests: XCTestCase {
    func test_the_five_characters_are_escaped() {
        XCTAssertEqual(HTMLText.escape("<script>alert('x')</script> & \"q\""),
                       "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
        XCTAssertEqual(HTMLText.escape("plain ünïcode"), "plain ünïcode")
    }

    /// The templates escape every `{{value}}` (PageRenderer): a label with markup is text on the page.
    func test_templates_escape_hostile_values() throws {
        let directory = try Self.bundle()
        let templates = try PageTemplates(directory: directory)
        let html = String(decoding: templates.render("error", ["title": "<b>t</b>", "heading": "<script>alert(1)</script>", "message": "a\"b'c&d", "home": "/ui/\"><x"]),
                          as: UTF8.self)
        XCTAssertFalse(html.contains("<script>alert(1)"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("a&quot;b&#39;c&amp;d"))
        XCTAssertTrue(html.contains("/ui/&quot;&gt;&lt;x"))
        XCTAssertFalse(html.contains("<b>t</b>"))
    }

    /// The source tree's resources, as the build copies them.
    static func bundle() throws -> String {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/BerthUI").path
        return sources
    }
}

final class UIRouteTests: XCTestCase {
    func test_pages_parse_and_nested_names_end_at_the_separator() {
        XCTAssertEqual(UIRoute.parse(""), .repositories)
        XCTAssertEqual(UIRoute.parse("/"), .repositories)
        XCTAssertEqual(UIRoute.parse("/overview"), .overview)
        XCTAssertEqual(UIRoute.parse("/static/berth.css"), .asset("berth.css"))
        XCTAssertEqual(UIRoute.parse("/r/team/app"), .repository(RepositoryName("team/app")!))
        XCTAssertEqual(UIRoute.parse("/r/team/app/-/manifest/v1"), .manifest(RepositoryName("team/app")!, reference: "v1"))
        let digest = "sha256:" + String(repeating: "a", count: 64)
        XCTAssertEqual(UIRoute.parse("/r/a/b/c/-/manifest/\(digest)"), .manifest(RepositoryName("a/b/c")!, reference: digest))
        XCTAssertEqual(UIRoute.parse("/r/team/app/-/delete/v1"), .delete(RepositoryName("team/app")!, reference: "v1"))
    }

    func test_what_is_no_page_is_nil() {
        XCTAssertNil(UIRoute.parse("/r/Team"))
        XCTAssertNil(UIRoute.parse("/r/team/app/-/manifest/"))
        XCTAssertNil(UIRoute.parse("/r/team/app/-/manifest/sha256:zz"))
        XCTAssertNil(UIRoute.parse("/r/team/app/-/other/v1"))
        XCTAssertNil(UIRoute.parse("/r/team/app/-/manifest/v1/extra"))
        XCTAssertNil(UIRoute.parse("/static/../x"))
        XCTAssertNil(UIRoute.parse("/static/"))
        XCTAssertNil(UIRoute.parse("/nothing"))
    }

    func test_paths_are_the_inverse_of_parse() {
        let paths = UIPaths(prefix: "/ui")
        XCTAssertEqual(UIRoute.parse(paths.manifest("a/b", "v2").dropFirst(3)), .manifest(RepositoryName("a/b")!, reference: "v2"))
        XCTAssertEqual(UIRoute.parse(paths.repository("a/b").dropFirst(3)), .repository(RepositoryName("a/b")!))
    }
}

final class SameOriginCheckTests: XCTestCase {
    func test_a_form_of_this_server_passes() {
        XCTAssertTrue(SameOriginCheck.allows(host: "127.0.0.1:5000", origin: "http://127.0.0.1:5000", referer: nil))
        XCTAssertTrue(SameOriginCheck.allows(host: "Registry.Example", origin: "https://registry.example", referer: nil))
        XCTAssertTrue(SameOriginCheck.allows(host: "127.0.0.1:5000", origin: nil, referer: "http://127.0.0.1:5000/ui/r/a/-/delete/v1"))
    }

    func test_another_site_a_null_origin_or_no_header_is_refused() {
        XCTAssertFalse(SameOriginCheck.allows(host: "127.0.0.1:5000", origin: "http://evil.example", referer: "http://127.0.0.1:5000/ui/"))
        XCTAssertFalse(SameOriginCheck.allows(host: "127.0.0.1:5000", origin: "null", referer: nil))
        XCTAssertFalse(SameOriginCheck.allows(host: "127.0.0.1:5000", origin: nil, referer: nil))
        XCTAssertFalse(SameOriginCheck.allows(host: "127.0.0.1:5000", origin: "http://127.0.0.1:50001", referer: nil))
        XCTAssertFalse(SameOriginCheck.allows(host: "127.0.0.1:5000", origin: nil, referer: "http://127.0.0.1:5000@evil.example/"))
        XCTAssertFalse(SameOriginCheck.allows(host: nil, origin: "http://127.0.0.1:5000", referer: nil))
    }
}

final class PullCommandsTests: XCTestCase {
    func test_tags_and_digests_and_the_plain_http_flags() {
        XCTAssertEqual(PullCommands.lines(host: "h:5000", repository: "team/app", reference: "v1", plainHTTP: true), [
            "docker pull h:5000/team/app:v1",
            "podman pull --tls-verify=false h:5000/team/app:v1",
            "skopeo copy --src-tls-verify=false docker://h:5000/team/app:v1 oci:./app:v1",
            "oras pull --plain-http h:5000/team/app:v1",
        ])
        let digest = "sha256:" + String(repeating: "b", count: 64)
        XCTAssertEqual(PullCommands.lines(host: "r.example", repository: "app", reference: digest, plainHTTP: false)[2],
                       "skopeo copy docker://r.example/app@\(digest) oci:./app")
    }
}

final class FormQueryTests: XCTestCase {
    func test_plus_and_percent_decode_and_encode_back() {
        let query = FormQuery("q=a+b%2Fc&n=5&empty")
        XCTAssertEqual(query["q"], "a b/c")
        XCTAssertEqual(query["n"], "5")
        XCTAssertEqual(query["empty"], "")
        XCTAssertNil(query["last"])
        XCTAssertEqual(FormQuery.encode([("q", "a b&<"), ("last", "team/app")]), "q=a%20b%26%3C&last=team/app")
    }
}
