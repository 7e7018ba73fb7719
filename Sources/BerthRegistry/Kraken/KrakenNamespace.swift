import BerthHTTP
import BerthUpstream
import BerthStorage
import Foundation

/// Where a Kraken namespace's blobs live besides Berth's own store (Kraken's `backends` configuration).
public struct KrakenNamespaceOptions {
    public enum Backend {
        /// Berth's store only.
        case local
        /// A repository of an upstream registry: blobs missing here are fetched from it, and `through=true`
        /// commits are pushed to it. Without a repository, the namespace is the repository's name.
        case registry(url: String, repository: String?, username: String?, password: String?, caFile: String?)
    }

    /// A regular expression matched anywhere in the namespace; the first matching entry wins.
    public var pattern: String
    public var backend: Backend

    public init(pattern: String, backend: Backend) {
        self.pattern = pattern
        self.backend = backend
    }
}

/// A configured namespace pattern with its backend, ready to use. Loop-confined.
struct KrakenNamespace {
    enum Backend {
        case local
        case registry(RegistryClient, repository: String?)
    }

    let matcher: NSRegularExpression
    let backend: Backend

    init(_ options: KrakenNamespaceOptions, loop: EventLoop, egress: EgressProxySettings = EgressProxySettings()) throws {
        matcher = try NSRegularExpression(pattern: options.pattern)
        switch options.backend {
        case .local:
            backend = .local
        case .registry(let url, let repository, let username, let password, let caFile):
            guard let address = UpstreamURL(url) else { throw UpstreamError.invalidURL(url) }
            var configuration = UpstreamClient.Configuration()
            configuration.tls.caFile = caFile
            configuration.userAgent = "berth-kraken"
            configuration.egress = egress
            let client = try UpstreamClient(loop: loop, configuration: configuration)
            backend = .registry(RegistryClient(client: client, baseURL: address, username: username, password: password),
                                repository: repository)
        }
    }

    func matches(_ namespace: Namespace) -> Bool {
        let text = namespace.value
        return matcher.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
