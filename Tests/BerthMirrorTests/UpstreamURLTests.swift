@testable import BerthMirror
import XCTest

final class UpstreamURLTests: XCTestCase {
    func test_scheme_host_port_and_target() {
        let url = UpstreamURL("https://registry-1.docker.io/v2/library/alpine/manifests/3.20")
        XCTAssertEqual(url?.isTLS, true)
        XCTAssertEqual(url?.host, "registry-1.docker.io")
        XCTAssertEqual(url?.port, 443)
        XCTAssertEqual(url?.target, "/v2/library/alpine/manifests/3.20")
        let plain = UpstreamURL("http://127.0.0.1:5000?x=1")
        XCTAssertEqual(plain?.port, 5000)
        XCTAssertEqual(plain?.target, "/?x=1")
        XCTAssertNil(UpstreamURL("ftp://x"))
        XCTAssertNil(UpstreamURL("http://"))
    }
}
