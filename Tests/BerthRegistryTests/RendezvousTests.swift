@testable import BerthRegistry
import XCTest

final class RendezvousTests: XCTestCase {
    private let nodes = ["http://127.0.0.1:5001", "http://127.0.0.1:5002", "http://127.0.0.1:5003"]
    private let keys = (0..<3000).map { "sha256:" + String(repeating: "0", count: 58) + String(format: "%06x", $0 * 7919) }

    func test_the_ranking_is_stable_and_the_same_in_any_order_of_the_list() {
        let one = Rendezvous(nodes: nodes)
        let other = Rendezvous(nodes: nodes.reversed())
        for key in keys.prefix(300) {
            XCTAssertEqual(one.ranking(for: key), one.ranking(for: key))
            XCTAssertEqual(one.ranking(for: key).map { nodes[$0] }, other.ranking(for: key).map { other.nodes[$0] })
            XCTAssertEqual(Set(one.ranking(for: key)), [0, 1, 2])
        }
    }

    func test_keys_are_spread_evenly_over_the_nodes() {
        let fleet = Rendezvous(nodes: nodes)
        var owned = [0, 0, 0]
        for key in keys { owned[fleet.owner(of: key)!] += 1 }
        for count in owned { XCTAssert((850...1150).contains(count), "owned: \(owned)") }
        // Over more nodes too: no node owns more than 1.25 times its share.
        let many = Rendezvous(nodes: (1...10).map { "http://10.0.0.\($0):5000" })
        var counts = Array(repeating: 0, count: 10)
        for key in keys { counts[many.owner(of: key)!] += 1 }
        XCTAssert(counts.allSatisfy { $0 <= 375 && $0 >= 225 }, "owned: \(counts)")
    }

    func test_removing_a_node_moves_only_its_keys_each_to_its_next_node() {
        let fleet = Rendezvous(nodes: nodes)
        let smaller = Rendezvous(nodes: [nodes[0], nodes[2]])
        for key in keys {
            let ranking = fleet.ranking(for: key).map { nodes[$0] }
            let owner = smaller.nodes[smaller.owner(of: key)!]
            if ranking[0] != nodes[1] {
                XCTAssertEqual(owner, ranking[0], "a key of a remaining node moved")
            } else {
                XCTAssertEqual(owner, ranking[1], "a removed node's key went elsewhere than its next node")
            }
        }
    }

    func test_a_digest_is_weighed_by_all_of_its_bytes() {
        let fleet = Rendezvous(nodes: nodes)
        let prefix = "sha256:" + String(repeating: "a", count: 63)
        let owners = Set("0123456789abcdef".map { fleet.owner(of: prefix + String($0))! })
        XCTAssertEqual(owners.count, 3, "keys differing in their last character all went to one node")
    }

    func test_urls_are_compared_without_case_trailing_slash_or_default_port() {
        XCTAssertEqual(ClusterOptions.normalized("HTTP://Node-1:5000/"), "http://node-1:5000")
        XCTAssertEqual(ClusterOptions.normalized("http://node-1"), "http://node-1:80")
        XCTAssertEqual(ClusterOptions.normalized("http://[::1]:5000"), "http://[::1]:5000")
        XCTAssertEqual(ClusterOptions.normalized("http://[::1]"), "http://[::1]:80")
    }
}
