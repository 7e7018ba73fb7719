@testable import BerthRegistry
import XCTest

/// The htpasswd file read as registry:2 reads it, and the Basic credentials read as Go's `Request.BasicAuth`.
final class HtpasswdTests: XCTestCase {
    // `htpasswd -nbB -C 4 alice secret`.
    private let alice = "$2y$04$tM8uk/tJSOlbuZNOs40JKuOLuafehR.WThU90TucKNiQx1VdaFn2O"

    func test_entries_are_user_colon_hash_with_comments_blank_lines_and_spaces_ignored() throws {
        let text = "# users\n\n  alice:\(alice)  \r\nbob:$apr1$x$y\n\t\n#carol:nope\ncarol:{SHA}abc\ndave:plain:with:colons\n"
        let entries = try HtpasswdEntries(parsing: text)
        XCTAssertEqual(entries.hashes, ["alice": alice, "bob": "$apr1$x$y", "carol": "{SHA}abc", "dave": "plain:with:colons"])
        XCTAssertEqual(entries.usersWithoutBcrypt, ["bob", "carol", "dave"])
    }

    func test_a_later_line_for_the_same_user_wins_and_an_empty_user_is_a_user() throws {
        let entries = try HtpasswdEntries(parsing: "alice:old\nalice:\(alice)\n:\(alice)")
        XCTAssertEqual(entries.hashes, ["alice": alice, "": alice])
    }

    func test_a_line_without_a_colon_makes_the_file_invalid_and_names_its_line() {
        XCTAssertThrowsError(try HtpasswdEntries(parsing: "alice:\(alice)\n# ok\nbob\n")) { error in
            XCTAssertEqual(error as? HtpasswdEntries.Invalid, HtpasswdEntries.Invalid(line: 3))
        }
    }

    func test_an_empty_file_has_no_users() throws {
        XCTAssertEqual(try HtpasswdEntries(parsing: "").hashes, [:])
        XCTAssertEqual(try HtpasswdEntries(parsing: "\n\n# nobody\n").hashes, [:])
    }

    func test_only_2a_2b_and_2y_hashes_of_60_characters_are_bcrypt() {
        XCTAssertTrue(HtpasswdEntries.isBcrypt(alice))
        XCTAssertTrue(HtpasswdEntries.isBcrypt("$2a$" + alice.dropFirst(4)))
        XCTAssertTrue(HtpasswdEntries.isBcrypt("$2b$" + alice.dropFirst(4)))
        XCTAssertFalse(HtpasswdEntries.isBcrypt("$2x$" + alice.dropFirst(4)))
        XCTAssertFalse(HtpasswdEntries.isBcrypt(String(alice.dropLast())))
        XCTAssertFalse(HtpasswdEntries.isBcrypt("$apr1$abcdefgh$abcdefghijklmnopqrstuv"))
        XCTAssertFalse(HtpasswdEntries.isBcrypt("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="))
        XCTAssertFalse(HtpasswdEntries.isBcrypt("$2y$1a$" + alice.dropFirst(7)))
    }

    func test_bcrypt_matches_the_right_password_only() {
        XCTAssertTrue(Bcrypt.verify(Array("secret".utf8), hash: alice))
        XCTAssertFalse(Bcrypt.verify(Array("Secret".utf8), hash: alice))
        XCTAssertFalse(Bcrypt.verify(Array("secret\u{0}more".utf8), hash: alice))
        XCTAssertFalse(Bcrypt.verify([], hash: alice))
        XCTAssertFalse(Bcrypt.verify(Array("secret".utf8), hash: "secret"), "a plain entry matches nothing, as in registry:2")
    }

    func test_a_made_hash_is_bcrypt_at_the_cost_asked_and_verifies() throws {
        let hash = try XCTUnwrap(Bcrypt.hash(Array("pw".utf8), cost: 4))
        XCTAssertTrue(hash.hasPrefix("$2y$04$"), hash)
        XCTAssertTrue(HtpasswdEntries.isBcrypt(hash))
        XCTAssertTrue(Bcrypt.verify(Array("pw".utf8), hash: hash))
        XCTAssertNotEqual(hash, Bcrypt.hash(Array("pw".utf8), cost: 4), "a random salt each time")
    }

    func test_the_stand_in_hash_of_unknown_users_is_bcrypt_at_the_default_cost() {
        XCTAssertTrue(HtpasswdEntries.isBcrypt(Bcrypt.unknownUserHash))
        XCTAssertTrue(Bcrypt.unknownUserHash.hasPrefix("$2y$10$"))
    }

    func test_basic_credentials_split_at_the_first_colon_and_the_scheme_is_case_insensitive() {
        // base64("alice:pa:ss") = YWxpY2U6cGE6c3M=
        XCTAssertEqual(BasicCredentials(authorization: "Basic YWxpY2U6cGE6c3M="), BasicCredentials(user: "alice", password: Array("pa:ss".utf8)))
        XCTAssertEqual(BasicCredentials(authorization: "bAsIc YWxpY2U6cGE6c3M=")?.user, "alice")
        // base64(":") = Og==, base64("a:") = YTo=
        XCTAssertEqual(BasicCredentials(authorization: "Basic Og=="), BasicCredentials(user: "", password: []))
        XCTAssertEqual(BasicCredentials(authorization: "Basic YTo="), BasicCredentials(user: "a", password: []))
    }

    func test_what_is_not_basic_base64_of_user_colon_password_is_no_credentials() {
        XCTAssertNil(BasicCredentials(authorization: "Bearer YWxpY2U6cGE6c3M="))
        XCTAssertNil(BasicCredentials(authorization: "Basic"))
        XCTAssertNil(BasicCredentials(authorization: "Basic "))
        XCTAssertNil(BasicCredentials(authorization: "BasicYWxpY2U6cGE6c3M="))
        XCTAssertNil(BasicCredentials(authorization: "Basic YWxpY2U"), "no padding")
        XCTAssertNil(BasicCredentials(authorization: "Basic YWxp Y2U6"), "a space inside")
        XCTAssertNil(BasicCredentials(authorization: "Basic YW=xY2U6"), "padding inside")
        XCTAssertNil(BasicCredentials(authorization: "Basic YWxpY2U="), "no colon")
        XCTAssertNil(BasicCredentials(authorization: "Basic YWxpY2U6cGE6c3M=="), "too much padding")
    }

    func test_base64_decodes_rfc_4648_vectors() {
        let vectors = ["": "", "Zg==": "f", "Zm8=": "fo", "Zm9v": "foo", "Zm9vYg==": "foob", "Zm9vYmE=": "fooba", "Zm9vYmFy": "foobar"]
        for (encoded, decoded) in vectors {
            XCTAssertEqual(BasicCredentials.base64Decoded(Array(encoded.utf8)[...]), Array(decoded.utf8), encoded)
        }
        XCTAssertEqual(BasicCredentials.base64Decoded(Array("Zm9v\r\nYmFy".utf8)[...]), Array("foobar".utf8), "CR LF skipped, as Go does")
    }

    func test_the_realm_is_quoted_as_go_quotes_it() {
        XCTAssertEqual(HtpasswdGate.quoted("Registry Realm"), "\"Registry Realm\"")
        XCTAssertEqual(HtpasswdGate.quoted("My \"Realm\" \\ x"), "\"My \\\"Realm\\\" \\\\ x\"")
    }
}
