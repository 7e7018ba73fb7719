@testable import BerthConfiguration
import XCTest

/// `cluster.*`: a node of a fleet of mirrors, and every combination Berth cannot honour refused at start.
final class ClusterConfigurationTests: XCTestCase {
    private let mirror = "proxy: {remoteurl: 'https://registry-1.docker.io'}\n"
    private let peers = "cluster:\n  peers: [http://10.0.0.1:5000, http://10.0.0.2:5000/, http://node-3:5000]\n"

    func test_a_node_reads_its_peers_and_itself() throws {
        let config = try load(mirror + peers + "  self: http://10.0.0.2:5000\n  timeout: 500ms\n")
        let cluster = try XCTUnwrap(config.registryOptions.mirror?.cluster)
        XCTAssertEqual(cluster.peers, ["http://10.0.0.1:5000", "http://10.0.0.2:5000/", "http://node-3:5000"])
        XCTAssertEqual(cluster.selfURL, "http://10.0.0.2:5000")
        XCTAssertEqual(cluster.timeoutSeconds, 0.5)
        XCTAssertNil(try load(mirror).registryOptions.mirror?.cluster)
    }

    func test_the_variables_take_a_comma_separated_list() throws {
        let config = try load(mirror, environment: ["BERTH_CLUSTER_PEERS": "http://a:5000,http://b:5000", "BERTH_CLUSTER_SELF": "http://b:5000"])
        XCTAssertEqual(config.clusterOptions?.peers, ["http://a:5000", "http://b:5000"])
    }

    func test_what_a_node_cannot_honour_is_refused_naming_the_key() {
        let me = "  self: http://10.0.0.1:5000\n"
        XCTAssertTrue(refusal(mirror + peers).contains("cluster.self is not set"))
        XCTAssertTrue(refusal(mirror + "cluster: {self: 'http://a:5000'}").contains("without cluster.peers"))
        XCTAssertTrue(refusal(mirror + peers + "  self: http://10.0.0.9:5000\n").contains("is not one of cluster.peers"))
        XCTAssertTrue(refusal(peers + me).contains("proxy.remoteurl"))
        XCTAssertTrue(refusal(mirror + peers + me + "auth: {htpasswd: {realm: r, path: /h}}\n").contains("auth.*"))
        XCTAssertTrue(refusal(mirror + peers + me + "http: {tls: {certificate: /c, key: /k}}\n").contains("http.tls"))
        XCTAssertTrue(refusal(mirror + "cluster: {peers: ['https://a:5000'], self: 'https://a:5000'}").contains("https peers are not supported"))
    }

    func test_hostile_values_are_refused() {
        for bad in ["[ftp://a:5000]", "[http://user:pw@a:5000]", "[http://a:5000/v2/]", "[http://a:5000?x=1]", "[http://]", "42",
                    "[http://a:5000, http://A:5000/]", "{a: b}"] {
            XCTAssertTrue(refusal(mirror + "cluster: {peers: \(bad), self: 'http://a:5000'}").contains("cluster.peers"), bad)
        }
        let many = (1...65).map { "http://10.0.0.\($0):5000" }.joined(separator: ", ")
        XCTAssertTrue(refusal(mirror + "cluster: {peers: [\(many)], self: 'http://10.0.0.1:5000'}").contains("at most 64"))
        for bad in ["0", "-1s", "2m", "1e30", "x"] {
            XCTAssertTrue(refusal(mirror + peers + "  self: http://10.0.0.1:5000\n  timeout: \(bad)\n").contains("cluster.timeout"), bad)
        }
    }
}
