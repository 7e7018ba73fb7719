import BerthTestSupport
import Foundation
import XCTest

/// The Python upstream the client tests talk to: two plain HTTP servers (`main`, and `other` as a
/// second host for redirects), TLS servers when certificates are given, and a listener that never speaks.
final class PythonPeer {
    let process: PeerProcess
    let ports: [String: Int]

    init(directory: String, tls: (cert: String, key: String, wrongNameCert: String, wrongNameKey: String)? = nil) throws {
        var arguments = [try PythonPeer.script()]
        if let tls { arguments += [tls.cert, tls.key, tls.wrongNameCert, tls.wrongNameKey] }
        process = try PeerProcess(pythonPath(), arguments, directory: directory, name: "peer")
        guard let line = process.firstLine(),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int] else {
            let log = process.log
            process.stop()
            throw NSError(domain: "peer", code: 1, userInfo: [NSLocalizedDescriptionKey: "python peer did not start: \(log)"])
        }
        ports = object
    }

    func url(_ server: String, _ target: String, host: String = "127.0.0.1") -> String {
        "\(server.hasPrefix("tls") ? "https" : "http")://\(host):\(ports[server]!)\(target)"
    }

    func stop() {
        process.stop()
    }

    /// Resources/peer.py, copied into the test bundle by SwiftPM (`resources: [.copy(...)]`).
    static func script() throws -> String {
        guard let path = Bundle.module.path(forResource: "peer", ofType: "py") else {
            throw NSError(domain: "peer", code: 2, userInfo: [NSLocalizedDescriptionKey: "peer.py is not in the test bundle"])
        }
        return path
    }
}
