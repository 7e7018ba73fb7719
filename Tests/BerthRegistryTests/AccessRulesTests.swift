@testable import BerthRegistry
import XCTest

/// The rules of `auth.builtin.access`: name patterns, who a rule applies to, and the actions a request is granted
/// (never more than it asked for, never more than some rule names).
final class AccessRulesTests: XCTestCase {
    private func pattern(_ text: String) -> AccessPattern { try! AccessPattern(text) }

    func test_a_star_matches_any_run_of_characters_slashes_included_and_a_question_mark_one() {
        XCTAssertTrue(pattern("*").matches("library/ubuntu", account: nil))
        XCTAssertTrue(pattern("team/*").matches("team/app", account: nil))
        XCTAssertTrue(pattern("team/*").matches("team/a/b", account: nil))
        XCTAssertFalse(pattern("team/*").matches("team", account: nil))
        XCTAssertFalse(pattern("team/*").matches("teams/app", account: nil))
        XCTAssertTrue(pattern("*/app").matches("a/b/app", account: nil))
        XCTAssertFalse(pattern("*/app").matches("a/b/apps", account: nil))
        XCTAssertTrue(pattern("a*b*c").matches("axxbyybzc", account: nil))
        XCTAssertFalse(pattern("a*b*c").matches("axxyyc", account: nil))
        XCTAssertFalse(pattern("a*b*c").matches("axxbyycd", account: nil))
        XCTAssertTrue(pattern("app-?").matches("app-1", account: nil))
        XCTAssertFalse(pattern("app-?").matches("app-10", account: nil))
        XCTAssertTrue(pattern("exact/name").matches("exact/name", account: nil))
        XCTAssertFalse(pattern("exact/name").matches("exact/name2", account: nil))
        XCTAssertTrue(pattern("**").matches("", account: nil))
    }

    func test_account_stands_for_the_user_literally_and_never_for_an_anonymous_request() {
        let own = pattern("${account}/*")
        XCTAssertTrue(own.matches("alice/app", account: "alice"))
        XCTAssertFalse(own.matches("bob/app", account: "alice"))
        XCTAssertFalse(own.matches("alice/app", account: nil))
        XCTAssertFalse(own.matches("/app", account: ""))
        // A user named with a wildcard gets no wildcard.
        XCTAssertFalse(own.matches("alice/app", account: "*"))
        XCTAssertTrue(own.matches("a*/app", account: "a*"))
    }

    func test_a_pattern_with_a_character_no_repository_name_holds_or_another_variable_is_refused() {
        for bad in ["", "Team/*", "team app", "${user}/*", "team/$", "a\\b", "é"] {
            XCTAssertThrowsError(try AccessPattern(bad), bad)
        }
        XCTAssertNoThrow(try AccessPattern("a.b_c-d/e9"))
    }

    private func rules() throws -> AccessRules {
        try AccessRules(rules: [
            AccessRule(subject: .account("alice"), name: pattern("*"), actions: ["*"]),
            AccessRule(subject: .group("ci"), name: pattern("ci/*"), actions: ["pull", "push"]),
            AccessRule(subject: .account("*"), name: pattern("${account}/*"), actions: ["pull", "push", "delete"]),
            AccessRule(subject: .account("*"), name: pattern("*"), actions: ["pull"]),
            AccessRule(subject: .anonymous, name: pattern("public/*"), actions: ["pull"]),
            AccessRule(subject: .account("alice"), type: "registry", name: pattern("catalog"), actions: ["*"]),
        ], groups: ["ci": ["bot", "builder"]])
    }

    func test_the_grant_is_what_was_asked_and_some_rule_names_in_the_order_asked() throws {
        let rules = try rules()
        XCTAssertEqual(rules.granted(type: "repository", name: "ci/app", actions: ["push", "pull"], account: "bot"), ["push", "pull"])
        XCTAssertEqual(rules.granted(type: "repository", name: "ci/app", actions: ["pull", "push", "delete"], account: "bot"), ["pull", "push"])
        XCTAssertEqual(rules.granted(type: "repository", name: "other/app", actions: ["pull", "push"], account: "bot"), ["pull"])
        XCTAssertEqual(rules.granted(type: "repository", name: "bot/mine", actions: ["delete", "delete"], account: "bot"), ["delete"])
        XCTAssertEqual(rules.granted(type: "repository", name: "ci/app", actions: ["pull", "push"], account: "carol"), ["pull"])
        XCTAssertEqual(rules.granted(type: "repository", name: "ci/app", actions: [], account: "bot"), [])
    }

    func test_a_rule_star_grants_every_action_but_an_asked_star_needs_a_rule_star() throws {
        let rules = try rules()
        XCTAssertEqual(rules.granted(type: "repository", name: "x", actions: ["pull", "push", "delete", "*"], account: "alice"),
                       ["pull", "push", "delete", "*"])
        XCTAssertEqual(rules.granted(type: "repository", name: "bot/x", actions: ["*"], account: "bot"), [])
        XCTAssertEqual(rules.granted(type: "registry", name: "catalog", actions: ["*"], account: "alice"), ["*"])
        XCTAssertEqual(rules.granted(type: "registry", name: "catalog", actions: ["*"], account: "bot"), [])
    }

    func test_anonymous_rules_hold_for_everyone_and_user_rules_for_no_anonymous_request() throws {
        let rules = try rules()
        XCTAssertEqual(rules.granted(type: "repository", name: "public/app", actions: ["pull", "push"], account: nil), ["pull"])
        XCTAssertEqual(rules.granted(type: "repository", name: "private/app", actions: ["pull"], account: nil), [])
        XCTAssertEqual(rules.granted(type: "repository", name: "public/app", actions: ["pull"], account: "bot"), ["pull"])
        XCTAssertEqual(rules.granted(type: "registry", name: "catalog", actions: ["*"], account: nil), [])
        // The type matters: a repository rule does not grant the catalog.
        XCTAssertEqual(rules.granted(type: "registry", name: "catalog", actions: ["pull"], account: "carol"), [])
    }

    func test_a_group_rule_holds_for_its_members_only() throws {
        let rules = try rules()
        XCTAssertEqual(rules.granted(type: "repository", name: "ci/app", actions: ["push"], account: "builder"), ["push"])
        XCTAssertEqual(rules.granted(type: "repository", name: "ci/app", actions: ["push"], account: "carol"), [])
        XCTAssertEqual(rules.granted(type: "repository", name: "ci/app", actions: ["push"], account: "ci"), ["push"], "ci's own namespace")
    }

    func test_rules_naming_an_undefined_group_an_unknown_type_or_action_are_refused_naming_the_rule() {
        func refusal(_ rule: AccessRule) -> String {
            do {
                _ = try AccessRules(rules: [AccessRule(subject: .anonymous, name: pattern("a"), actions: ["pull"]), rule])
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal(AccessRule(subject: .group("ops"), name: pattern("a"), actions: ["pull"])),
                       "access[1].group: ops is not one of the groups")
        XCTAssertEqual(refusal(AccessRule(subject: .anonymous, type: "kraken", name: pattern("a"), actions: ["pull"])),
                       "access[1].type: kraken is not repository or registry")
        XCTAssertEqual(refusal(AccessRule(subject: .anonymous, name: pattern("a"), actions: ["pull", "write"])),
                       "access[1].actions: write is not pull, push, delete or *")
        XCTAssertEqual(refusal(AccessRule(subject: .account(""), name: pattern("a"), actions: ["pull"])),
                       "access[1].account: empty (a user's name, or * for every logged-in user)")
    }
}
