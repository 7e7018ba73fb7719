import BerthJWT

/// What a client asks the token endpoint: a GET's query as docker's token spec has it (`service`, `scope`
/// repeated, `account`, `offline_token`, `client_id`; credentials in `Authorization: Basic`, or none), or a
/// POST's `application/x-www-form-urlencoded` form as its oauth.md has it (`grant_type` `password` with
/// `username` and `password`, or `refresh_token` with `refresh_token`; `scope` space-separated; `access_type`
/// `offline` for a refresh token). Pure: no I/O.
struct TokenRequest: Equatable {
    enum Grant: Equatable {
        /// GET: the `Authorization` header decides (none: anonymous).
        case header
        case password(user: String, password: String)
        case refreshToken(String)
    }

    var grant: Grant
    var service: String?
    var account: String?
    /// Each scope once, as asked; one that is not `type:name:actions` is dropped, as registry:2's token servers do.
    var scopes: [TokenAccess] = []
    /// A refresh token is asked for (`offline_token=true`, or `access_type=offline` with a password).
    var offline = false
    /// Which answer the client reads: a POST's has `scope` and no `token`.
    var isOAuth: Bool { grant != .header }

    struct Invalid: Error, Equatable, CustomStringConvertible {
        let description: String
    }

    /// Bounds on what is read: docker asks for a handful of scopes.
    static let maxScopes = 64
    static let maxFormBytes = 64 * 1024

    init(grant: Grant, service: String? = nil, account: String? = nil, scopes: [TokenAccess] = [], offline: Bool = false) {
        self.grant = grant
        self.service = service
        self.account = account
        self.scopes = scopes
        self.offline = offline
    }

    /// GET `?service=...&scope=...&scope=...&account=...&offline_token=true`.
    init(query: Substring) throws {
        let fields = Self.fields(Array(query.utf8))
        grant = .header
        try read(fields, scopes: fields.filter { $0.name == "scope" }.map(\.value))
        offline = Self.first("offline_token", in: fields).map { ["true", "1"].contains($0.lowercased()) } ?? false
    }

    /// POST's form.
    init(form: [UInt8]) throws {
        let fields = Self.fields(form)
        switch Self.first("grant_type", in: fields) {
        case "password":
            guard let user = Self.first("username", in: fields), let password = Self.first("password", in: fields) else {
                throw Invalid(description: "grant_type=password needs username and password")
            }
            grant = .password(user: user, password: password)
            offline = Self.first("access_type", in: fields) == "offline"
        case "refresh_token":
            guard let token = Self.first("refresh_token", in: fields), !token.isEmpty else {
                throw Invalid(description: "grant_type=refresh_token needs refresh_token")
            }
            grant = .refreshToken(token)
        case let other?:
            throw Invalid(description: "grant_type \(other) is not supported (password or refresh_token)")
        case nil:
            throw Invalid(description: "grant_type is missing (password or refresh_token)")
        }
        // oauth.md: one `scope` field, the scopes separated by spaces.
        try read(fields, scopes: fields.filter { $0.name == "scope" }.flatMap { $0.value.split(separator: " ").map(String.init) })
    }

    private mutating func read(_ fields: [(name: String, value: String)], scopes raw: [String]) throws {
        service = Self.first("service", in: fields)
        account = Self.first("account", in: fields).flatMap { $0.isEmpty ? nil : $0 }
        // A scope value may itself hold several, separated by spaces (some clients join them so in a GET too).
        let all = raw.flatMap { $0.split(separator: " ").map(String.init) }
        guard all.count <= Self.maxScopes else { throw Invalid(description: "more than \(Self.maxScopes) scopes") }
        for text in all {
            guard let scope = TokenAccess(scope: text), !scopes.contains(scope) else { continue }
            scopes.append(scope)
        }
    }

    private static func first(_ name: String, in fields: [(name: String, value: String)]) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// `a=b&c=d`, percent-decoded with `+` for a space, as Go's `url.ParseQuery` reads a query or a form.
    static func fields(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        bytes.split(separator: UInt8(ascii: "&")).map { part in
            let decoded = part.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }
            let text = String(decoding: decoded, as: UTF8.self)[...]
            guard let equals = text.firstIndex(of: "=") else { return (percentDecode(text), "") }
            return (percentDecode(text[..<equals]), percentDecode(text[text.index(after: equals)...]))
        }
    }
}
