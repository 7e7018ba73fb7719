import ArgumentParser
import BerthStorage

/// `berth cache evict`'s IMAGE: a cache name (as `berth cache list` prints it) with `:tag`, `@digest`, or
/// nothing (the whole repository).
struct CacheEntryArgument {
    let entry: MirrorCacheEviction.Entry

    init(_ text: String) throws {
        let at = text.firstIndex(of: "@")
        let namePart: Substring
        var reference: Substring?
        if let at {
            namePart = text[..<at]
            reference = text[text.index(after: at)...]
        } else if let colon = text.lastIndex(of: ":"), !text[colon...].contains("/") {
            namePart = text[..<colon]
            reference = text[text.index(after: colon)...]
        } else {
            namePart = text[...]
        }
        guard let name = RepositoryName(namePart) else {
            var hint = ""
            if namePart.contains(":") { hint = " (a port is written _port in a cache name: 127.0.0.1_5101/org/tool)" }
            if namePart != namePart.lowercased() { hint = " (cache names are lowercase)" }
            throw ValidationError("IMAGE \(quoted(text)): \(quoted(String(namePart))) is not a repository name\(hint); see berth cache list")
        }
        if at != nil, let digest = reference {
            guard let digest = Digest(digest) else {
                throw ValidationError("IMAGE \(quoted(text)): \(quoted(String(digest))) is not a digest (sha256:<64 hex digits>)")
            }
            entry = .manifest(name, digest)
        } else if let tag = reference {
            guard let tag = Tag(tag) else { throw ValidationError("IMAGE \(quoted(text)): \(quoted(String(tag))) is not a tag") }
            entry = .tag(name, tag)
        } else {
            entry = .repository(name)
        }
    }
}
