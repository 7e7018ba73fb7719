/// The command lines that pull an image from this registry, for the host the browser asked (`Host`): the
/// same name the page was reached by is the one a client on that network reaches.
enum PullCommands {
    /// `plainHTTP`: the registry serves no TLS, so the clients that check need to be told.
    static func lines(host: String, repository: String, reference: String, plainHTTP: Bool) -> [String] {
        let separator = reference.contains(":") ? "@" : ":"
        let image = host + "/" + repository + separator + reference
        let local = String(repository.split(separator: "/").last ?? "image")
        let destination = reference.contains(":") ? "oci:./\(local)" : "oci:./\(local):\(reference)"
        return [
            "docker pull \(image)",
            "podman pull \(plainHTTP ? "--tls-verify=false " : "")\(image)",
            "skopeo copy \(plainHTTP ? "--src-tls-verify=false " : "")docker://\(image) \(destination)",
            "oras pull \(plainHTTP ? "--plain-http " : "")\(image)",
        ]
    }
}
