import BerthHTTP
import BerthUpstream

/// The Bearer token flow for the harness's requests (Docker's token authentication specification), done by
/// the mirror's own client: `RegistryClient.token` asks the realm (with the Basic credentials when given),
/// makes one fetch per scope however many connections wait for it, and caches the token for its lifetime.
/// Token requests go over BerthUpstream's connections, not the harness's, so they are neither counted nor
/// timed as the scenario's. Loop-confined; the runner keeps one across the seeding and load of every scenario.
final class BenchAuthorizer {
    private let client: UpstreamClient
    private let registry: RegistryClient
    /// Per slot: the granted token, and its `Authorization` line as sent.
    private var tokens: [String?] = Array(repeating: nil, count: AuthSlot.allCases.count)
    private var lines: [[UInt8]?] = Array(repeating: nil, count: AuthSlot.allCases.count)

    /// `timeoutMilliseconds` bounds the probe and every token request as `--timeout` bounds the load's.
    init(loop: EventLoop, target: BenchTarget, tls: UpstreamTLSConfiguration, username: String?, password: String?,
         timeoutMilliseconds: UInt64) throws {
        var configuration = UpstreamClient.Configuration()
        configuration.tls = tls
        configuration.userAgent = "berth-bench"
        configuration.connectTimeoutMilliseconds = timeoutMilliseconds
        configuration.readTimeoutMilliseconds = timeoutMilliseconds
        // No idle connections: the loop's run ends when the harness's own connections are closed.
        configuration.maxIdleConnectionsPerOrigin = 0
        client = try UpstreamClient(loop: loop, configuration: configuration)
        registry = RegistryClient(client: client, baseURL: UpstreamURL(target.url)!, username: username, password: password)
    }

    /// Token requests sent so far (one connection each, since none is kept).
    var fetches: Int { client.connectionsOpened }

    @inline(__always)
    func line(for slot: AuthSlot) -> [UInt8]? { lines[slot.rawValue] }

    /// Answers a 401's challenge for `slot`: `done(nil)` once its token is in force, `done(reason)` when none
    /// came. `refusedOwnToken`: the 401 answered the token of the slot, which is then fetched anew.
    func answer(_ challenge: String, slot: AuthSlot, refusedOwnToken: Bool, done: @escaping (String?) -> Void) {
        guard case .bearer(let realm, let service, let scope)? = AuthChallenge.preferred(in: [challenge]) else {
            return done("not a Bearer challenge")
        }
        registry.token(for: (realm, service, scope), refused: refusedOwnToken ? tokens[slot.rawValue] : nil) { [self] result in
            switch result {
            case .success(let token):
                tokens[slot.rawValue] = token
                lines[slot.rawValue] = Array("Authorization: Bearer \(token)\r\n".utf8)
                done(nil)
            case .failure(let error):
                done(error.reason)
            }
        }
    }
}
