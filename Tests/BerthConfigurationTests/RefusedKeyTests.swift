@testable import BerthConfiguration
import BerthRegistry
import XCTest

/// registry:2 keys asking for what Berth lacks stop it, named with their file or variable; keys that only
/// tune registry:2 are warned about; a key that asks for nothing starts.
final class RefusedKeyTests: XCTestCase {
    func test_security_and_routing_keys_in_the_file_are_refused_each_on_its_own_line() {
        let message = refusal("""
            http:
              tls: {certificate: /c.crt, key: /c.key, letsencrypt: {email: a@example.com}}
            auth:
              ldap: {url: ldap://x}
            """)
        let lines = message.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, message)
        XCTAssertTrue(lines[0].hasPrefix("test.yml: auth.ldap: Berth authenticates with auth.htpasswd, auth.token or its built-in issuer (auth.builtin) only"), message)
        XCTAssertTrue(lines[1].hasPrefix("test.yml: http.tls.letsencrypt: Berth has no ACME client"), message)
        for (text, key) in [("storage: {s3: {bucket: b}}", "storage.s3"), ("middleware: {storage: [{name: cloudfront}]}", "middleware.storage"),
                            ("http: {prefix: /registry/}", "http.prefix"), ("http: {net: unix}", "http.net"),
                            ("storage: {redirect: {disable: false}}", "storage.redirect"),
                            ("storage: {maintenance: {readonly: {enabled: true}}}", "storage.maintenance.readonly"),
                            ("proxy: {exec: {command: helper}}", "proxy.exec")] {
            XCTAssertTrue(refusal(text).hasPrefix("test.yml: \(key): Berth"), text)
        }
    }

    func test_variables_asking_for_what_berth_lacks_are_refused_at_the_key_of_the_rule() {
        XCTAssertTrue(refusal(environment: ["REGISTRY_AUTH_LDAP_URL": "ldap://x"])
                        .hasPrefix("environment REGISTRY_AUTH_LDAP_URL: auth.ldap: "))
        XCTAssertTrue(refusal(environment: ["BERTH_AUTH_SILLY_ISSUER": "me"]).hasPrefix("environment BERTH_AUTH_SILLY_ISSUER: auth.silly: "))
        XCTAssertTrue(refusal(environment: ["REGISTRY_STORAGE": "s3"]).hasPrefix("environment REGISTRY_STORAGE: storage: "))
        XCTAssertTrue(refusal(environment: ["REGISTRY_STORAGE_S3_BUCKET": "b"]).hasPrefix("environment REGISTRY_STORAGE_S3_BUCKET: storage.s3: "))
    }

    func test_htpasswd_loads_with_realm_and_path_and_either_alone_is_refused_naming_the_other() throws {
        let (config, warnings) = try Configuration.load(text: "auth: {htpasswd: {realm: R, path: /etc/htpasswd}}", named: "test.yml", environment: [:])
        XCTAssertEqual(warnings, [])
        XCTAssertEqual(config.registryOptions.htpasswd, HtpasswdOptions(realm: "R", path: "/etc/htpasswd"))
        XCTAssertNil(Configuration().registryOptions.htpasswd)
        let fromVariables = try Configuration.load(text: nil, named: "", environment: [
            "REGISTRY_AUTH": "htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM": "R", "REGISTRY_AUTH_HTPASSWD_PATH": "/p"]).0
        XCTAssertEqual(fromVariables.registryOptions.htpasswd, HtpasswdOptions(realm: "R", path: "/p"))
        XCTAssertTrue(refusal("auth: {htpasswd: {path: /etc/htpasswd}}").hasPrefix("test.yml: auth.htpasswd.realm is not set"))
        XCTAssertTrue(refusal(environment: ["REGISTRY_AUTH_HTPASSWD_REALM": "R"]).hasPrefix("test.yml: auth.htpasswd.path is not set"))
    }

    func test_what_asks_for_nothing_loads() throws {
        for text in ["auth:\n", "storage: {redirect: {disable: true}}", "http: {tls: {certificate: '', key: ''}}",
                     "storage: {maintenance: {readonly: {enabled: false}}}", "http: {net: tcp, prefix: /}"] {
            XCTAssertNoThrow(try load(text), text)
        }
        // podman's and skopeo's credentials file, not an authentication method.
        XCTAssertNoThrow(try load(environment: ["REGISTRY_AUTH_FILE": "/run/auth.json", "REGISTRY_STORAGE": "filesystem"]))
    }

    func test_tuning_keys_are_warned_about_and_ignored() throws {
        let (_, warnings) = try Configuration.load(text: """
            version: 0.1
            http: {secret: s, headers: {X-Content-Type-Options: [nosniff]}}
            notifications: {endpoints: []}
            storage: {cache: {blobdescriptor: inmemory}}
            """, named: "c.yml", environment: ["REGISTRY_NOTIFICATIONS_X": "y"])
        XCTAssertEqual(warnings, ["c.yml: ignoring http.headers: not used by Berth",
                                  "c.yml: ignoring http.secret: Berth keeps upload state in storage, not in signed tokens",
                                  "c.yml: ignoring notifications: not used by Berth",
                                  "c.yml: ignoring storage.cache: not used by Berth"])
    }
}
