extension Configuration {
    /// `ui.path`: an absolute path of letters, digits, `-`, `_` and `/`, without a trailing slash, that is not
    /// under one of the registry's own paths (`/v2`, `/namespace`, `/healthz`, `/readyz`, `/metrics`).
    static func uiPath(_ value: Any, _ key: String, _ origin: String) throws -> String {
        let path = try text(value, key, origin)
        let allowed = path.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2f }
        let first = path.split(separator: "/").first.map(String.init) ?? ""
        guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/"), !path.contains("//"), allowed,
              !["v2", "namespace", "healthz", "readyz", "metrics"].contains(first) else {
            throw Invalid(description: "\(origin): \(key): expected a path such as /ui (letters, digits, -, _ and /; no trailing slash; not under /v2, /namespace, /healthz, /readyz or /metrics)")
        }
        return path
    }
}
