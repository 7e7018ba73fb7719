/// The UI's defence against cross-site request forgery: a state-changing request (the delete's POST) must come
/// from a page of this server. Browsers send `Origin` with every form POST (Fetch standard); without it,
/// `Referer` stands in. Either must name the host the request was sent to (`Host`), or the request is refused:
/// with Basic authentication the browser would add the credentials to another site's forged form too.
/// No per-form token is needed: a cross-origin page cannot set `Origin` or `Referer`.
enum SameOriginCheck {
    static func allows(host: String?, origin: String?, referer: String?) -> Bool {
        guard let host = host?.lowercased(), !host.isEmpty else { return false }
        if let origin {
            // "null" (a sandboxed frame, a redirect across origins) is no origin of ours.
            return authority(of: origin) == host
        }
        if let referer { return authority(of: referer) == host }
        return false
    }

    /// `http://host:port/path` -> `host:port`; nil when it is not an http(s) URL.
    static func authority(of url: String) -> String? {
        let lowered = url.lowercased()
        let rest: Substring
        if lowered.hasPrefix("http://") { rest = lowered.dropFirst(7) } else if lowered.hasPrefix("https://") { rest = lowered.dropFirst(8) } else { return nil }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // Credentials in the URL (`user@host`) are no part of the host.
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        return String(authority)
    }
}
