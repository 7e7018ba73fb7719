import BerthJWT
@testable import BerthRegistry
import XCTest

/// The token endpoint's requests as clients send them: docker's GET (token spec) and its POST form (oauth.md).
final class TokenRequestTests: XCTestCase {
    func test_a_get_as_docker_sends_it_reads_service_each_scope_account_and_offline_token() throws {
        let request = try TokenRequest(query: "account=alice&client_id=docker&offline_token=true&service=berth"
                                       + "&scope=repository%3Ateam%2Fapp%3Apull%2Cpush&scope=repository%3Abase%3Apull")
        XCTAssertEqual(request.grant, .header)
        XCTAssertEqual(request.service, "berth")
        XCTAssertEqual(request.account, "alice")
        XCTAssertTrue(request.offline)
        XCTAssertEqual(request.scopes, [TokenAccess(type: "repository", name: "team/app", actions: ["pull", "push"]),
                                        TokenAccess(type: "repository", name: "base", actions: ["pull"])])
        XCTAssertFalse(request.isOAuth)
    }

    func test_a_scope_value_with_spaces_holds_several_and_a_malformed_or_repeated_one_is_dropped() throws {
        let request = try TokenRequest(query: "scope=repository:a:pull+registry:catalog:*&scope=nonsense&scope=repository:a:pull")
        XCTAssertEqual(request.scopes.map(\.scope), ["repository:a:pull", "registry:catalog:*"])
        XCTAssertFalse(request.offline)
        XCTAssertNil(request.service)
        XCTAssertNil(try TokenRequest(query: "account=").account)
        XCTAssertThrowsError(try TokenRequest(query: Substring(Array(repeating: "scope=repository:a:pull", count: 65).joined(separator: "&"))))
    }

    func test_a_password_grant_reads_the_form_with_plus_as_space_and_access_type_offline() throws {
        let form = "client_id=docker&grant_type=password&password=p%26ss+word&scope=repository%3Aa%3Apull+repository%3Ab%3Apush"
            + "&service=berth&username=alice&access_type=offline"
        let request = try TokenRequest(form: Array(form.utf8))
        XCTAssertEqual(request.grant, .password(user: "alice", password: "p&ss word"))
        XCTAssertTrue(request.offline)
        XCTAssertEqual(request.scopes.map(\.scope), ["repository:a:pull", "repository:b:push"])
        XCTAssertTrue(request.isOAuth)
    }

    func test_a_refresh_grant_reads_the_token_and_other_grants_are_refused() throws {
        let request = try TokenRequest(form: Array("grant_type=refresh_token&refresh_token=abc.def.ghi&service=berth&scope=".utf8))
        XCTAssertEqual(request.grant, .refreshToken("abc.def.ghi"))
        XCTAssertEqual(request.scopes, [])
        func refusal(_ form: String) -> String {
            do { _ = try TokenRequest(form: Array(form.utf8)); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal("grant_type=client_credentials"), "grant_type client_credentials is not supported (password or refresh_token)")
        XCTAssertEqual(refusal("username=a&password=b"), "grant_type is missing (password or refresh_token)")
        XCTAssertEqual(refusal("grant_type=password&username=a"), "grant_type=password needs username and password")
        XCTAssertEqual(refusal("grant_type=refresh_token"), "grant_type=refresh_token needs refresh_token")
    }

    func test_the_access_claim_merges_the_scopes_of_one_repository_and_leaves_out_what_is_not_granted() throws {
        let rules = try AccessRules(rules: [
            AccessRule(subject: .account("*"), name: try AccessPattern("*"), actions: ["pull"]),
            AccessRule(subject: .account("bob"), name: try AccessPattern("bob/*"), actions: ["push"]),
        ])
        let asked = [TokenAccess(type: "repository", name: "bob/app", actions: ["pull"]),
                     TokenAccess(type: "repository", name: "other", actions: ["push"]),
                     TokenAccess(type: "repository", name: "bob/app", actions: ["push", "delete"])]
        XCTAssertEqual(rules.grant(asked, account: "bob"), [TokenAccess(type: "repository", name: "bob/app", actions: ["pull", "push"])])
        XCTAssertEqual(rules.grant(asked, account: nil), [])
    }

    func test_the_answer_has_both_token_names_and_rfc3339_issue_time_and_is_not_cached() {
        let response = TokenIssuer.response(token: "t", refreshToken: "r", expiresIn: 300, issuedAt: 1_764_608_400, scope: "repository:a:pull")
        guard case .bytes(let body) = response.body else { return XCTFail("no body") }
        XCTAssertEqual(String(decoding: body, as: UTF8.self),
                       "{\"token\":\"t\",\"access_token\":\"t\",\"expires_in\":300,\"issued_at\":\"2025-12-01T17:00:00Z\","
                       + "\"refresh_token\":\"r\",\"scope\":\"repository:a:pull\"}\n")
        XCTAssertTrue(response.headers.contains { $0.name == "Cache-Control" && $0.value == "no-store" })
    }

    func test_the_fingerprint_of_a_hash_is_16_hex_digits_that_change_with_the_hash() {
        let a = TokenIssuer.fingerprint("$2y$10$abc")
        XCTAssertEqual(a.count, 16)
        XCTAssertEqual(a, TokenIssuer.fingerprint("$2y$10$abc"))
        XCTAssertNotEqual(a, TokenIssuer.fingerprint("$2y$10$abd"))
    }
}
