import BerthHTTP

/// What `auth.htpasswd` configures (registry:2's keys).
public struct HtpasswdOptions: Equatable {
    public var realm: String
    public var path: String

    public init(realm: String, path: String) {
        self.realm = realm
        self.path = path
    }
}

/// The gate of `auth.htpasswd` in front of the registry's routes: a request passes with `Authorization: Basic`
/// credentials of a user of the file, else it is answered 401 with registry:2's challenge. Credentials seen
/// before pass at once (`CredentialCache`); new ones are checked by bcrypt on the pool, at most
/// `concurrentVerifications` at a time, and every request that carries the same value meanwhile waits for that
/// one check. A waiting request holds its body back, and is run again through the registry once admitted;
/// one whose client has gone is dropped. The file is stat'ed at most once a second, and read again when it
/// changed. Failed logins are counted per client address and throttled (`LoginThrottle`). Loop-confined;
/// one per worker process (each verifies and caches on its own).
final class HtpasswdGate {
    static let concurrentVerifications = 4
    /// Distinct credentials waiting for bcrypt beyond those running: past it, 429 (a flood of new logins).
    static let maxQueued = 256
    static let fileCheckIntervalMilliseconds: UInt64 = 1000

    let options: HtpasswdOptions
    private let loop: EventLoop
    private let metrics: Metrics
    /// Runs an admitted request again (the registry's `handle`).
    var resume: (HTTPExchange) -> Void = { _ in }

    /// nil while the file cannot be read or parsed: every login is refused (503) until it can.
    private var entries: HtpasswdEntries?
    private var identity: HtpasswdFile.Identity?
    private var generation = 0
    private var nextFileCheck: UInt64
    private var cache = CredentialCache()
    private var throttle = LoginThrottle<ClientAddress>()

    private struct Verification {
        let key: CredentialCache.Key
        let credentials: BasicCredentials
        /// nil: no such user; bcrypt runs against a stand-in so the answer takes as long.
        let hash: String?
        let client: ClientAddress
        let generation: Int
    }

    private var waiting: [CredentialCache.Key: [HTTPExchange]] = [:]
    private var queued: [Verification] = []
    private var running = 0
    /// The request being run again after its verification, which the gate lets through without a look.
    private var admittedNow: HTTPExchange?
    private let challenge: (name: String, value: String)

    /// Throws when the file cannot be read or parsed, naming the key and the path.
    init(options: HtpasswdOptions, loop: EventLoop, metrics: Metrics) throws {
        self.options = options
        self.loop = loop
        self.metrics = metrics
        identity = HtpasswdFile.identity(options.path)
        let read = try HtpasswdFile.read(options.path)
        entries = read
        nextFileCheck = loop.now + Self.fileCheckIntervalMilliseconds
        challenge = ("WWW-Authenticate", "Basic realm=\(Self.quoted(options.realm))")
        Self.warnAboutHashes(read, path: options.path)
    }

    /// True: serve the request now. False: the gate has answered it, or runs it again once its check is done.
    func admits(_ exchange: HTTPExchange) -> Bool {
        if exchange === admittedNow { return true }
        let now = loop.now
        if now >= nextFileCheck { checkFile(now: now) }
        guard let authorization = exchange.request.header("Authorization") else {
            exchange.respond(challengeResponse)
            return false
        }
        let key = CredentialCache.Key(authorization: authorization)
        if cache.user(for: key, now: now) != nil { return true }
        guard let entries else {
            exchange.fail(RegistryError(.authenticationUnavailable, "the htpasswd file cannot be read; the server's log says why"))
            return false
        }
        if waiting[key] != nil {
            exchange.holdBody()
            waiting[key]?.append(exchange)
            return false
        }
        // Another scheme (Bearer), or not base64 of user:password: no login was tried, nothing is counted.
        guard let credentials = BasicCredentials(authorization: authorization), let client = exchange.clientAddress else {
            exchange.respond(challengeResponse)
            return false
        }
        if case .throttled(let seconds) = throttle.attempt(client, now: now) {
            return refuseThrottled(exchange, seconds: seconds, "too many failed logins from this address")
        }
        guard queued.count < Self.maxQueued else {
            throttle.ended(client, failed: false, now: now)
            return refuseThrottled(exchange, seconds: 1, "too many logins waiting to be checked")
        }
        exchange.holdBody()
        waiting[key] = [exchange]
        queued.append(Verification(key: key, credentials: credentials, hash: entries.hashes[credentials.user], client: client,
                                   generation: generation))
        startVerifications()
        return false
    }

    /// Reads the file again now (SIGHUP), whether or not it looks changed.
    func reload() {
        identity = HtpasswdFile.identity(options.path)
        readFile()
    }

    private var challengeResponse: HTTPResponse {
        RegistryError(.unauthorized).response(headers: [challenge])
    }

    private func refuseThrottled(_ exchange: HTTPExchange, seconds: Int, _ detail: String) -> Bool {
        metrics.authThrottled += 1
        exchange.fail(RegistryError(.loginThrottled, "\(detail); retry after \(seconds) s"), headers: [("Retry-After", String(seconds))])
        return false
    }

    private func startVerifications() {
        while running < Self.concurrentVerifications, !queued.isEmpty {
            let verification = queued.removeFirst()
            running += 1
            let password = verification.credentials.password
            let hash = verification.hash ?? Bcrypt.unknownUserHash
            let known = verification.hash != nil
            loop.offload({ Bcrypt.verify(password, hash: hash) && known }, then: { [self] matched in
                finish(verification, matched: matched)
            })
        }
    }

    private func finish(_ verification: Verification, matched: Bool) {
        running -= 1
        metrics.authBcryptVerifications += 1
        let now = loop.now
        throttle.ended(verification.client, failed: !matched, now: now)
        if !matched {
            metrics.countLoginFailure(verification.client.description)
            let reason = verification.hash == nil ? "no such user" : HtpasswdEntries.isBcrypt(verification.hash!) ? "wrong password" : "its entry is not bcrypt"
            Log.info("htpasswd: login of \(JSONString.quoted(verification.credentials.user)) from \(verification.client) refused: \(reason)")
        }
        // Checked against a file that has changed since: the new one decides.
        let current = verification.generation == generation
        if matched && current { cache.insert(verification.key, user: verification.credentials.user, now: now) }
        for exchange in waiting.removeValue(forKey: verification.key) ?? [] where exchange.isOpen {
            if !matched {
                exchange.releaseHeldBody()
                exchange.respond(challengeResponse)
            } else if current || admits(exchange) {
                admittedNow = exchange
                resume(exchange)
                admittedNow = nil
                exchange.releaseHeldBody()
            } else if !exchange.isOpen {
                exchange.releaseHeldBody() // answered by the new file's gate (a 429, a 503)
            }
        }
        startVerifications()
    }

    private func checkFile(now: UInt64) {
        nextFileCheck = now + Self.fileCheckIntervalMilliseconds
        let current = HtpasswdFile.identity(options.path)
        guard current != identity else { return }
        identity = current
        readFile()
    }

    /// A change empties the cache: a removed user or a changed password stops passing at once.
    private func readFile() {
        generation += 1
        cache.removeAll()
        do {
            let read = try HtpasswdFile.read(options.path)
            entries = read
            Log.info("htpasswd: \(options.path) read: \(read.hashes.count) users")
            Self.warnAboutHashes(read, path: options.path)
        } catch {
            entries = nil
            Log.error("htpasswd: \(error); every login is refused (503) until the file can be read")
        }
    }

    private static func warnAboutHashes(_ entries: HtpasswdEntries, path: String) {
        let users = entries.usersWithoutBcrypt
        guard !users.isEmpty else { return }
        Log.warn("htpasswd: \(path): no password can log in as \(users.map(JSONString.quoted).joined(separator: ", ")): "
                 + "only bcrypt entries are accepted, as in registry:2 (htpasswd -B)")
    }

    /// Go's `%q`, as registry:2 writes the realm: backslashes and quotes escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}
