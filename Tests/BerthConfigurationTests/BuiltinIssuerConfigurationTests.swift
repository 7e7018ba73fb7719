@testable import BerthConfiguration
import BerthRegistry
import XCTest

/// `auth.builtin`: read from the file and the environment, checked when read (a key, a field, an action, a
/// pattern or a group that is wrong stops the start naming it), and alone as the one scheme.
final class BuiltinIssuerConfigurationTests: XCTestCase {
    private let full = """
        auth:
          builtin:
            htpasswd: /etc/berth/htpasswd
            key: /var/lib/berth/token.pem
            service: registry.example
            issuer: berth-issuer
            realm: https://registry.example/auth/token
            expiration: 2m
            refreshexpiration: 24h
            groups: {ci: [bot, builder]}
            access:
              - {account: alice, name: "*", actions: ["*"]}
              - {group: ci, name: "ci/*", actions: [pull, push]}
              - {account: "*", name: "${account}/*", actions: "pull,push,delete"}
              - {anonymous: true, name: "public/*", actions: [pull]}
              - {account: alice, type: registry, name: catalog, actions: ["*"]}
        """

    func test_every_key_is_read_into_the_issuer_options() throws {
        let options = try XCTUnwrap(try load(full).registryOptions.builtinIssuer)
        XCTAssertEqual(options.htpasswdPath, "/etc/berth/htpasswd")
        XCTAssertEqual(options.keyPath, "/var/lib/berth/token.pem")
        XCTAssertEqual(options.service, "registry.example")
        XCTAssertEqual(options.issuer, "berth-issuer")
        XCTAssertEqual(options.realm, "https://registry.example/auth/token")
        XCTAssertEqual(options.path, "/auth/token")
        XCTAssertEqual(options.expirationSeconds, 120)
        XCTAssertEqual(options.refreshExpirationSeconds, 86_400)
        XCTAssertEqual(options.rules.groups, ["ci": ["bot", "builder"]])
        XCTAssertEqual(options.rules.rules.count, 5)
        XCTAssertEqual(options.rules.rules[2].actions, ["pull", "push", "delete"])
        XCTAssertEqual(options.rules.rules[3].subject, .anonymous)
        XCTAssertEqual(options.rules.rules[4].type, "registry")
        XCTAssertEqual(options.rules.granted(type: "repository", name: "ci/app", actions: ["pull", "push"], account: "bot"), ["pull", "push"])
    }

    func test_the_defaults_are_the_issuer_options_and_without_auth_builtin_there_is_no_issuer() throws {
        XCTAssertNil(Configuration().registryOptions.builtinIssuer)
        let options = try XCTUnwrap(try load("auth: {builtin: {htpasswd: /h, key: /k}}").registryOptions.builtinIssuer)
        XCTAssertEqual(options, BuiltinIssuerOptions(htpasswdPath: "/h", keyPath: "/k", rules: try AccessRules(rules: [])))
        XCTAssertNil(options.realm)
        XCTAssertEqual(options.path, "/auth/token")
        XCTAssertEqual(options.service, "berth")
        XCTAssertEqual(options.expirationSeconds, 300)
    }

    func test_both_environment_prefixes_set_it_and_a_variable_holds_rules_as_yaml() throws {
        for prefix in ["REGISTRY_", "BERTH_"] {
            let config = try load(environment: [prefix + "AUTH_BUILTIN_HTPASSWD": "/h", prefix + "AUTH_BUILTIN_KEY": "/k",
                                                prefix + "AUTH_BUILTIN_GROUPS": "{ops: [carol]}",
                                                prefix + "AUTH_BUILTIN_ACCESS": "[{group: ops, name: 'ops/*', actions: [push]}]"])
            let options = try XCTUnwrap(config.registryOptions.builtinIssuer, prefix)
            XCTAssertEqual(options.rules.granted(type: "repository", name: "ops/x", actions: ["push"], account: "carol"), ["push"], prefix)
        }
    }

    func test_a_wrong_rule_stops_the_start_naming_the_rule_and_its_field() {
        func rule(_ text: String) -> String {
            refusal("auth: {builtin: {htpasswd: /h, key: /k, access: [{anonymous: true, name: a, actions: [pull]}, \(text)]}}")
        }
        XCTAssertEqual(rule("{account: bob, name: a, actions: [pull, write]}"),
                       "test.yml: auth.builtin.access[1].actions: write is not pull, push, delete or *")
        XCTAssertEqual(rule("{account: bob, name: 'Team/*', actions: [pull]}"),
                       "test.yml: auth.builtin.access[1].name: Team/*: T cannot be in a repository name "
                       + "(lower-case letters, digits, . _ - /; * and ? as wildcards; ${account})")
        XCTAssertEqual(rule("{account: bob, actions: [pull]}"), "test.yml: auth.builtin.access[1].name: missing (a repository pattern, * for all)")
        XCTAssertEqual(rule("{account: bob, name: a}"), "test.yml: auth.builtin.access[1].actions: missing (pull, push, delete or *)")
        XCTAssertEqual(rule("{acount: bob, name: a, actions: [pull]}"),
                       "test.yml: auth.builtin.access[1].acount: not a field of a rule (account, group, anonymous, type, name, actions)")
        XCTAssertEqual(rule("{account: bob, group: ci, name: a, actions: [pull]}"),
                       "test.yml: auth.builtin.access[1]: a rule names exactly one of account, group or anonymous: true")
        XCTAssertEqual(rule("{anonymous: false, name: a, actions: [pull]}"),
                       "test.yml: auth.builtin.access[1].anonymous: only true means something (leave the rule out instead)")
        XCTAssertEqual(rule("{account: bob, type: kraken, name: a, actions: [pull]}"),
                       "test.yml: auth.builtin.access[1].type: kraken is not repository or registry")
        XCTAssertEqual(rule("{group: ops, name: a, actions: [pull]}"), "test.yml: auth.builtin.access[1].group: ops is not one of the groups")
    }

    func test_a_missing_path_a_bad_realm_a_misspelt_key_or_another_scheme_beside_it_is_refused() {
        XCTAssertTrue(refusal("auth: {builtin: {htpasswd: /h}}").hasPrefix("test.yml: auth.builtin.key is not set"))
        XCTAssertTrue(refusal("auth: {builtin: {key: /k, service: s}}").hasPrefix("test.yml: auth.builtin.htpasswd is not set"))
        // A key at its default value asks for the issuer all the same.
        XCTAssertTrue(refusal("auth: {builtin: {service: berth}}").hasPrefix("test.yml: auth.builtin.htpasswd is not set"))
        XCTAssertTrue(refusal(environment: ["BERTH_AUTH_BUILTIN_EXPIRATION": "5m"]).hasPrefix("test.yml: auth.builtin.htpasswd is not set"))
        XCTAssertEqual(refusal("auth: {builtin: {htpasswd: /h, key: /k, expiry: 5m}}"),
                       "test.yml: auth.builtin.expiry: not a key of auth.builtin (access, expiration, groups, htpasswd, issuer, key, realm, refreshexpiration, service)")
        XCTAssertTrue(refusal("auth: {builtin: {htpasswd: /h, key: /k, realm: 'https://r.example/v2/token'}}")
            .hasPrefix("test.yml: auth.builtin.realm: https://r.example/v2/token: Berth serves the token endpoint on this path"))
        XCTAssertEqual(refusal("auth: {builtin: {htpasswd: /h, key: /k, realm: 'ftp://r'}}"),
                       "test.yml: auth.builtin.realm: ftp://r is not an http:// or https:// URL")
        XCTAssertEqual(refusal("auth: {builtin: {htpasswd: /h, key: /k, expiration: 0s}}"),
                       "test.yml: auth.builtin.expiration: 0s is not from 1s to 24h")
        XCTAssertTrue(refusal("auth: {builtin: {htpasswd: /h, key: /k}, htpasswd: {realm: R, path: /p}}")
            .hasPrefix("test.yml: auth.builtin and auth.htpasswd are both set"))
        XCTAssertTrue(refusal("auth: {builtin: {htpasswd: /h, key: /k}, token: {realm: 'https://a/t', service: s, issuer: i, rootcertbundle: /nonexistent}}")
            .contains("test.yml: auth.builtin and auth.token are both set"))
        XCTAssertEqual(refusal("auth: {builtin: {htpasswd: /h, key: /k, groups: [ci]}}"),
                       "test.yml: auth.builtin.groups: expected a mapping of group name to a list of users")
    }

    func test_the_endpoint_is_served_on_the_realms_path() {
        XCTAssertEqual(Configuration.realmPath("https://registry.example/auth/token"), "/auth/token")
        XCTAssertEqual(Configuration.realmPath("https://registry.example:5000/token?x=1"), "/token")
        XCTAssertEqual(Configuration.realmPath("http://registry.example"), "/")
    }
}
