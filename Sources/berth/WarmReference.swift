import ArgumentParser
import BerthStorage

/// `berth cache warm`'s IMAGE, as an image reference names it: `[registry-host[:port]/]repository[:tag|@digest]`.
/// The host, when there is one (a first component with `.` or `:`, or `localhost`, as Docker reads it), is
/// passed to the mirror as containerd's `ns=`, which chooses its upstream; without one the mirror's default
/// upstream answers.
struct WarmReference: CustomStringConvertible {
    let namespace: String?
    let repository: RepositoryName
    /// A tag or a digest, as the manifest URL takes it.
    let reference: String
    let text: String

    var description: String { text }

    init(_ text: String) throws {
        self.text = text
        var rest = Substring(text)
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" {
                guard Self.isHost(first) else { throw ValidationError("IMAGE \(quoted(text)): \(quoted(String(first))) is not a registry host") }
                namespace = String(first)
                rest = rest[rest.index(after: slash)...]
            } else {
                namespace = nil
            }
        } else {
            namespace = nil
        }
        var name = rest
        var reference = "latest"
        if let at = rest.firstIndex(of: "@") {
            name = rest[..<at]
            let digest = rest[rest.index(after: at)...]
            guard Digest(digest) != nil else {
                throw ValidationError("IMAGE \(quoted(text)): \(quoted(String(digest))) is not a digest (sha256:<64 hex digits>)")
            }
            reference = String(digest)
        } else if let colon = rest.lastIndex(of: ":") {
            name = rest[..<colon]
            let tag = rest[rest.index(after: colon)...]
            guard Tag(tag) != nil else { throw ValidationError("IMAGE \(quoted(text)): \(quoted(String(tag))) is not a tag") }
            reference = String(tag)
        }
        guard let repository = RepositoryName(name) else {
            throw ValidationError("IMAGE \(quoted(text)): \(quoted(String(name))) is not a repository name")
        }
        self.repository = repository
        self.reference = reference
    }

    /// Letters, digits, `.` and `-`, then an optional `:port`: what the reference grammar allows (no IPv6 here).
    private static func isHost(_ text: Substring) -> Bool {
        var host = text
        if let colon = text.lastIndex(of: ":") {
            let port = text[text.index(after: colon)...]
            guard let number = Int(port), (1...65535).contains(number), port.count <= 5 else { return false }
            host = text[..<colon]
        }
        return !host.isEmpty && host.utf8.count <= 253 && host.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2e || byte == 0x2d
        }
    }

    /// `/v2/<repository>/<kind>/<reference>?ns=<host>`.
    func path(_ kind: String, _ reference: String) -> String {
        "/v2/\(repository.value)/\(kind)/\(reference)" + (namespace.map { "?ns=\($0)" } ?? "")
    }
}

/// `--platform os/arch[/variant]`, as an index's `platform` says it.
struct WarmPlatform: Equatable, CustomStringConvertible {
    let os: String
    let architecture: String
    let variant: String?

    init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let valid = parts.allSatisfy { !$0.isEmpty && $0.count <= 64 && $0.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e } }
        guard (2...3).contains(parts.count), valid else {
            throw ValidationError("--platform \(quoted(text)): expected os/architecture[/variant], such as linux/arm64/v8")
        }
        os = parts[0]
        architecture = parts[1]
        variant = parts.count == 3 ? parts[2] : nil
    }

    var description: String { "\(os)/\(architecture)" + (variant.map { "/\($0)" } ?? "") }

    /// An index entry's platform is this one; without a variant asked for, any variant is.
    func matches(_ platform: [String: Any]?) -> Bool {
        guard let platform, platform["os"] as? String == os, platform["architecture"] as? String == architecture else { return false }
        guard let variant else { return true }
        return platform["variant"] as? String == variant
    }
}
