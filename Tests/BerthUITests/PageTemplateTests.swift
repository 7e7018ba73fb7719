@testable import BerthUI
import XCTest

final class PageTemplateTests: XCTestCase {
    private func render(_ source: String, _ fields: PageFields, library: [String: String] = [:]) throws -> String {
        var templates: [String: PageTemplate] = [:]
        for (name, text) in library { templates[name] = try PageTemplate(text, named: name) }
        var renderer = PageRenderer(library: templates)
        renderer.render(try PageTemplate(source, named: "page"), fields)
        return String(decoding: renderer.out, as: UTF8.self)
    }

    func test_values_are_escaped_unless_the_template_says_triple_or_ampersand() throws {
        let html = try render("{{a}}|{{{a}}}|{{& a}}|{{missing}}|{{n}}", ["a": "<b a='1'>&\"", "n": 42])
        XCTAssertEqual(html, "&lt;b a=&#39;1&#39;&gt;&amp;&quot;|<b a='1'>&\"|<b a='1'>&\"||42")
    }

    func test_sections_repeat_over_lists_push_fields_and_look_names_up_outward() throws {
        let fields: PageFields = ["rows": [["name": "a"], ["name": "<b>"]], "outer": "o", "box": ["inner": "i"], "items": .texts(["x", "y"])]
        XCTAssertEqual(try render("{{#rows}}[{{name}}{{outer}}]{{/rows}}{{#box}}{{inner}}{{outer}}{{/box}}{{#items}}{{.}};{{/items}}", fields),
                       "[ao][&lt;b&gt;o]io" + "x;y;")
    }

    func test_false_empty_and_missing_hide_a_section_and_show_an_inverted_one() throws {
        let fields: PageFields = ["no": false, "yes": true, "empty": [], "blank": "", "text": "t"]
        XCTAssertEqual(try render("{{#no}}1{{/no}}{{#empty}}2{{/empty}}{{#blank}}3{{/blank}}{{#gone}}4{{/gone}}{{#yes}}5{{/yes}}{{#text}}{{.}}{{/text}}", fields), "5t")
        XCTAssertEqual(try render("{{^no}}1{{/no}}{{^empty}}2{{/empty}}{{^gone}}3{{/gone}}{{^yes}}4{{/yes}}{{!a comment}}", fields), "123")
    }

    func test_standalone_section_lines_leave_no_blank_lines_and_inline_ones_keep_theirs() throws {
        let source = "<ul>\n  {{#rows}}\n  <li>{{.}}</li>\n  {{/rows}}\n</ul>\n<pre>{{#rows}}<code>{{.}}</code>\n{{/rows}}</pre>\n"
        XCTAssertEqual(try render(source, ["rows": .texts(["a", "b"])]), "<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>\n<pre><code>a</code>\n<code>b</code>\n</pre>\n")
    }

    func test_a_parent_renders_with_the_blocks_the_child_replaces() throws {
        let layout = "<title>{{title}}</title>\n<main>\n{{$content}}default{{/content}}\n</main>{{$foot}}f{{/foot}}\n"
        let page = "{{<layout}}{{$content}}\n<h1>{{title}}</h1>\n{{/content}}{{/layout}}\n"
        XCTAssertEqual(try render(page, ["title": "<T>"], library: ["layout": layout]), "<title>&lt;T&gt;</title>\n<main>\n\n<h1>&lt;T&gt;</h1>\n\n</main>f\n\n")
    }

    func test_unbalanced_and_unclosed_tags_are_refused_at_start() {
        for source in ["{{#a}}x", "{{#a}}x{{/b}}", "x{{/a}}", "{{a", "{{}}"] {
            XCTAssertThrowsError(try PageTemplate(source, named: "t"), source)
        }
    }

    /// Every template of the bundle parses and names only layouts it has.
    func test_the_bundles_templates_load() throws {
        let templates = try PageTemplates(directory: try HTMLEscapingTests.bundle())
        XCTAssertEqual(Set(templates.library.keys), ["delete", "error", "layout", "manifest", "overview", "repositories", "repository"])
    }
}
