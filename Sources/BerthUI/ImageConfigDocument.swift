import Foundation

/// What the UI shows of an image's config blob (OCI image-spec `config.md`): platform, creation time, how it
/// runs (entrypoint, cmd, env, working directory, user, ports), labels and the history of its layers.
struct ImageConfigDocument {
    struct HistoryEntry {
        let created: String?
        let createdBy: String
        let emptyLayer: Bool
    }

    let created: String?
    let platform: String?
    let entrypoint: [String]
    let cmd: [String]
    let env: [String]
    let workingDir: String?
    let user: String?
    let exposedPorts: [String]
    let labels: [(key: String, value: String)]
    let history: [HistoryEntry]

    init?(_ bytes: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { return nil }
        created = object["created"] as? String
        platform = ManifestDocument.platform(os: object["os"] as? String, architecture: object["architecture"] as? String, variant: object["variant"] as? String)
        let run = object["config"] as? [String: Any] ?? [:]
        entrypoint = run["Entrypoint"] as? [String] ?? []
        cmd = run["Cmd"] as? [String] ?? []
        env = run["Env"] as? [String] ?? []
        workingDir = (run["WorkingDir"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        user = (run["User"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        exposedPorts = (run["ExposedPorts"] as? [String: Any]).map { $0.keys.sorted() } ?? []
        labels = ManifestDocument.strings(run["Labels"])
        history = (object["history"] as? [Any] ?? []).compactMap { entry in
            guard let entry = entry as? [String: Any] else { return nil }
            return HistoryEntry(created: entry["created"] as? String, createdBy: entry["created_by"] as? String ?? entry["comment"] as? String ?? "",
                                emptyLayer: entry["empty_layer"] as? Bool ?? false)
        }
    }

    /// The command line as a shell would show it: each argument quoted when it holds a space or a quote.
    static func commandLine(_ arguments: [String]) -> String {
        arguments.map { argument in
            argument.isEmpty || argument.contains(where: { " \"'\\$".contains($0) }) ? "\"" + argument.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" : argument
        }.joined(separator: " ")
    }
}
