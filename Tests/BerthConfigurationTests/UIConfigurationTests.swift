@testable import BerthConfiguration
import XCTest

/// `ui.path` must be a path of its own: not the registry's, not one a link could not be built under.
final class UIConfigurationTests: XCTestCase {
    func test_ui_path_takes_an_absolute_path_without_a_trailing_slash() throws {
        XCTAssertEqual(try load(yaml("ui.path", "/admin/registry-ui")).uiPath, "/admin/registry-ui")
        XCTAssertTrue(Configuration().uiEnabled)
        XCTAssertEqual(Configuration().uiPath, "/ui")
    }

    func test_ui_path_under_the_registry_or_malformed_is_refused_with_its_key() {
        for text in ["ui", "/", "/ui/", "/v2", "/v2/ui", "/metrics", "/healthz", "/namespace/x", "//ui", "/u i", "/ui?x", "'/ü'"] {
            XCTAssertTrue(refusal(yaml("ui.path", text)).hasPrefix("test.yml: ui.path: expected a path such as /ui"), text)
        }
    }
}
