import Foundation

/// registry:2 configuration keys that ask for something Berth does not provide: security (authentication,
/// Let's Encrypt, a read-only mode, manifest policies), another storage driver, redirects, middleware, another
/// listener. A config that sets one stops Berth with a message naming the key, because serving anyway
/// would start a registry more open, or stored elsewhere, than its operator wrote down. Keys that only
/// tune registry:2 (log formatters, notifications, redis, health, reporting, ...) are not here: they are
/// warned about and ignored.
struct RefusedKey {
    /// A dotted key path; `section.*` stands for every key directly below `section` except `except`.
    let path: String
    var except: Set<String> = []
    /// Whether a value of the key asks for the feature: an empty section or `redirect: {disable: true}` does not.
    var asks: (Any?) -> Bool = RefusedKey.hasContent
    /// What Berth offers instead.
    let instead: String

    static let all: [RefusedKey] = [
        RefusedKey(path: "auth.*", except: ["htpasswd", "token", "builtin"], instead: "Berth authenticates with auth.htpasswd, "
                   + "auth.token or its built-in issuer (auth.builtin) only (no other scheme), so every client could push and delete; "
                   + "use one of them, or put an authenticating proxy in front"),
        RefusedKey(path: "auth.token.jwks", instead: "Berth reads the issuer's keys from auth.token.rootcertbundle only "
                   + "(certificates; a token's kid is matched against their keys); put the issuer's certificate there"),
        RefusedKey(path: "auth.builtin.*", except: Configuration.builtinKeys, instead: "not a key of auth.builtin ("
                   + Configuration.builtinKeys.sorted().joined(separator: ", ") + ")"),
        RefusedKey(path: "http.tls.letsencrypt", instead: "Berth has no ACME client; give it a certificate and key "
                   + "(http.tls.certificate, http.tls.key), for example from certbot, and send it SIGHUP when they are renewed"),
        RefusedKey(path: "http.net", asks: { value in
            guard let net = value as? String else { return hasContent(value) }
            return !["", "tcp", "tcp4", "tcp6"].contains(net.lowercased())
        }, instead: "Berth listens on TCP (http.addr) only"),
        RefusedKey(path: "http.prefix", asks: { value in
            guard let prefix = value as? String else { return hasContent(value) }
            return !["", "/"].contains(prefix)
        }, instead: "Berth serves /v2/ at the root of its address; map a prefix in a proxy in front of it"),
        RefusedKey(path: "storage", asks: { value in
            // registry:2 also takes the driver's name as the value (REGISTRY_STORAGE=s3).
            guard let driver = value as? String else { return false }
            return driver.lowercased() != "filesystem"
        }, instead: RefusedKey.filesystemOnly),
        // Before `storage.*`, so that its message wins (issue 18: until the S3 driver lands, serve refuses it).
        RefusedKey(path: "storage.s3", instead: "Berth has no S3 storage driver yet and stores on storage.filesystem only; "
                   + "storage.s3 is read by `berth storage s3-check CONFIG` only, a diagnostic of the bucket"),
        RefusedKey(path: "storage.*", except: ["filesystem", "delete", "cache", "maintenance", "redirect", "tag"],
                   instead: RefusedKey.filesystemOnly),
        RefusedKey(path: "storage.redirect", asks: { value in
            guard let section = value as? [String: Any] else { return hasContent(value) }
            return !isTrue(section["disable"])
        }, instead: "Berth serves blobs itself and never redirects to the storage (set disable: true or remove the key)"),
        RefusedKey(path: "storage.maintenance.readonly", asks: { value in
            guard let section = value as? [String: Any] else { return hasContent(value) }
            return isTrue(section["enabled"])
        }, instead: "Berth has no read-only mode; every client that reaches it can push"),
        RefusedKey(path: "middleware.*", instead: "Berth has no registry, repository or storage middleware "
                   + "(CloudFront, redirects, rewrites); blobs are always served by Berth itself"),
        RefusedKey(path: "validation.manifests.urls", instead: "Berth keeps no allow or deny list for the URLs of foreign layers"),
        RefusedKey(path: "policy.repository", instead: "Berth has no policy on manifest classes; every kind of manifest is accepted"),
        RefusedKey(path: "proxy.exec", instead: "Berth takes upstream credentials from proxy.username and proxy.password only"),
    ]

    private static let filesystemOnly = "Berth stores on a local or mounted file system only (storage.filesystem); "
        + "it has no other storage driver yet"

    /// The rule that covers `path` (a key of the file, or one named by an environment variable, which may lie
    /// deeper than the rule), with the path it was matched at.
    /// The most specific rule wins: `storage.s3` is a driver even though `storage` has a rule of its own.
    static func rule(covering path: String) -> (rule: RefusedKey, at: String)? {
        let parts = path.split(separator: ".").map(String.init)
        var best: (rule: RefusedKey, depth: Int)?
        for rule in all {
            let ruleParts = rule.path.split(separator: ".").map(String.init)
            guard parts.count >= ruleParts.count, ruleParts.count > (best?.depth ?? 0) else { continue }
            let matches = zip(ruleParts, parts).allSatisfy { $0 == "*" || $0 == $1 }
            let wildcardChild = ruleParts.last == "*" ? parts[ruleParts.count - 1] : nil
            if matches, !(wildcardChild.map(rule.except.contains) ?? false) { best = (rule, ruleParts.count) }
        }
        return best.map { ($0.rule, parts.prefix($0.depth).joined(separator: ".")) }
    }

    /// A leaf that says something: YAML's empty `auth:` or `tls: {certificate: ""}` asks for nothing, as in registry:2.
    static func hasContent(_ value: Any?) -> Bool {
        switch value {
        case nil: return false
        case let text as String: return !text.isEmpty
        case let mapping as [String: Any]: return mapping.values.contains { hasContent($0) }
        case let list as [Any]: return !list.isEmpty
        case is NSNull: return false
        default: return true
        }
    }

    private static func isTrue(_ value: Any?) -> Bool {
        switch value {
        case let flag as Bool: return flag
        case let text as String: return ["true", "yes", "1", "on"].contains(text.lowercased())
        default: return false
        }
    }
}
