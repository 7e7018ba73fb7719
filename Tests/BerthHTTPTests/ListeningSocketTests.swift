@testable import BerthHTTP
import Glibc
import XCTest

final class ListeningSocketTests: XCTestCase {
    func test_a_busy_port_is_refused_however_many_sockets_are_asked_for() throws {
        let sockets = try ListeningSocket.open("127.0.0.1:0", count: 2)
        defer { sockets.forEach { close($0.descriptor) } }
        XCTAssertEqual(sockets.count, 2)
        XCTAssertNotEqual(sockets[0].port, 0)
        XCTAssertEqual(sockets[1].port, sockets[0].port, "the second joins the first")
        for count in [1, 2] {
            XCTAssertThrowsError(try ListeningSocket.open("127.0.0.1:\(sockets[0].port)", count: count)) { error in
                XCTAssertTrue("\(error)".contains("address already in use"), "\(error)")
            }
        }
    }

    func test_an_address_without_a_port_is_refused() {
        XCTAssertThrowsError(try ListeningSocket.open("127.0.0.1"))
        XCTAssertThrowsError(try ListeningSocket.open("example.org:80"))
    }
}
