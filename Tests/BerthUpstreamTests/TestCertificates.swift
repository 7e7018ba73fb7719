import BerthTestSupport
import Foundation

/// A throwaway CA and two server certificates signed by it: one for localhost and 127.0.0.1, one for
/// another name, so a name mismatch can be shown with a trusted chain.
struct TestCertificates {
    let caFile: String
    let cert: String
    let key: String
    let wrongNameCert: String
    let wrongNameKey: String

    init(directory: String) throws {
        let openssl = "/usr/bin/openssl"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try runTool(openssl, ["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                                                      "-subj", "/CN=Berth Test CA",
                                                      "-addext", "basicConstraints=critical,CA:TRUE",
                                                      "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory: directory)
        for (name, san) in [("server", "DNS:localhost,IP:127.0.0.1"), ("other", "DNS:other.example")] {
            try "subjectAltName=\(san)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                .write(toFile: "\(directory)/\(name).ext", atomically: true, encoding: .utf8)
            try runTool(openssl, ["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"],
                        directory: directory)
            try runTool(openssl, ["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                                  "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext"], directory: directory)
        }
        caFile = directory + "/ca.pem"
        cert = directory + "/server.pem"
        key = directory + "/server.key"
        wrongNameCert = directory + "/other.pem"
        wrongNameKey = directory + "/other.key"
    }
}
