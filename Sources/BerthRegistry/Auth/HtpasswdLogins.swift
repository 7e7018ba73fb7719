import BerthHTTP

/// The users of an htpasswd file and the checking of their passwords, for the gate of `auth.htpasswd` and for
/// the built-in token issuer. Credentials seen before pass at once (`CredentialCache`); new ones are checked by
/// bcrypt on the pool, at most `concurrentVerifications` at a time, and every login that carries the same value
/// meanwhile waits for that one check. The file is stat'ed at most once a second, and read again when it
/// changed. Failed logins are counted per client address and throttled (`LoginThrottle`). Loop-confined; one
/// per worker process (each verifies and caches on its own).
final class HtpasswdLogins {
    static let concurrentVerifications = 4
    /// Distinct credentials waiting for bcrypt beyond those running: past it, 429 (a flood of new logins).
    static let maxQueued = 256
    static let fileCheckIntervalMilliseconds: UInt64 = 1000

    enum Outcome {
        case verified(user: String)
        /// bcrypt runs on the pool: the completion is called with another outcome once it is done.
        case pending
        /// Another scheme (Bearer), not base64 of user:password, or no client address: no login was tried.
        case notTried
        /// No such user, or a wrong password (counted against the address, and logged).
        case refused
        /// The file cannot be read or parsed: every login is refused until it can.
        case unavailable
        case throttled(retryAfterSeconds: Int, detail: String)
    }

    let path: String
    /// The configuration's key of the path, for messages.
    private let pathKey: String
    private let loop: EventLoop
    private let metrics: Metrics

    /// nil while the file cannot be read or parsed.
    private var entries: HtpasswdEntries?
    private var identity: HtpasswdFile.Identity?
    private var generation = 0
    private var nextFileCheck: UInt64
    /// Unchecked: touched only by this class's methods, one at a time (the dynamic check, ~50 instructions, is
    /// paid by every request of an authenticated client).
    @exclusivity(unchecked) private var cache = CredentialCache()
    private var throttle = LoginThrottle<ClientAddress>()

    private struct Verification {
        let authorization: String
        let key: CredentialCache.Key
        let credentials: BasicCredentials
        /// nil: no such user; bcrypt runs against a stand-in so the answer takes as long.
        let hash: String?
        let client: ClientAddress
        let generation: Int
    }

    private var waiting: [CredentialCache.Key: [(Outcome) -> Void]] = [:]
    private var queued: [Verification] = []
    private var running = 0

    /// Throws when the file cannot be read or parsed, naming `key` (the configuration's) and the path.
    init(path: String, key: String, loop: EventLoop, metrics: Metrics) throws {
        self.path = path
        pathKey = key
        self.loop = loop
        self.metrics = metrics
        identity = HtpasswdFile.identity(path)
        let read = try HtpasswdFile.read(path, key: key)
        entries = read
        nextFileCheck = loop.now + Self.fileCheckIntervalMilliseconds
        Self.warnAboutHashes(read, path: path)
    }

    /// Checks an `Authorization` value. Returns the outcome, or `.pending`: then `completion` is called later,
    /// once, with the outcome (and not at all when the outcome is returned at once).
    func login(_ authorization: String, from client: ClientAddress?, then completion: @escaping (Outcome) -> Void) -> Outcome {
        let now = loop.now
        if now >= nextFileCheck { checkFile(now: now) }
        let key = CredentialCache.Key(authorization: authorization)
        if let user = cache.user(for: key, now: now) { return .verified(user: user) }
        guard let entries else { return .unavailable }
        if waiting[key] != nil {
            waiting[key]?.append(completion)
            return .pending
        }
        guard let credentials = BasicCredentials(authorization: authorization), let client else { return .notTried }
        if case .throttled(let seconds) = throttle.attempt(client, now: now) {
            return throttled(seconds, "too many failed logins from this address")
        }
        guard queued.count < Self.maxQueued else {
            throttle.ended(client, failed: false, now: now)
            return throttled(1, "too many logins waiting to be checked")
        }
        waiting[key] = [completion]
        queued.append(Verification(authorization: authorization, key: key, credentials: credentials, hash: entries.hashes[credentials.user], client: client,
                                   generation: generation))
        startVerifications()
        return .pending
    }

    /// True when these credentials were verified before and their entry lives: `login`'s first answer, from the
    /// value's bytes where the request head holds them (no String of them, no completion to allocate), for every
    /// request of a kept-alive client after its first. False: `login` decides.
    func areCached(_ authorization: UnsafeBufferPointer<UInt8>) -> Bool {
        let now = loop.now
        if now >= nextFileCheck { checkFile(now: now) }
        return cache.user(for: CredentialCache.Key(authorization: authorization), now: now) != nil
    }

    /// The hash the file holds for `user` now (nil: no such user, or the file cannot be read).
    func hash(of user: String) -> String? {
        let now = loop.now
        if now >= nextFileCheck { checkFile(now: now) }
        return entries?.hashes[user]
    }

    /// Reads the file again now (SIGHUP), whether or not it looks changed.
    func reload() {
        identity = HtpasswdFile.identity(path)
        readFile()
    }

    private func throttled(_ seconds: Int, _ detail: String) -> Outcome {
        metrics.authThrottled += 1
        return .throttled(retryAfterSeconds: seconds, detail: detail)
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
        for completion in waiting.removeValue(forKey: verification.key) ?? [] {
            if !matched {
                completion(.refused)
            } else if current {
                completion(.verified(user: verification.credentials.user))
            } else {
                let again = login(verification.authorization, from: verification.client, then: completion)
                if case .pending = again {} else { completion(again) }
            }
        }
        startVerifications()
    }

    private func checkFile(now: UInt64) {
        nextFileCheck = now + Self.fileCheckIntervalMilliseconds
        let current = HtpasswdFile.identity(path)
        guard current != identity else { return }
        identity = current
        readFile()
    }

    /// A change empties the cache: a removed user or a changed password stops passing at once.
    private func readFile() {
        generation += 1
        cache.removeAll()
        do {
            let read = try HtpasswdFile.read(path, key: pathKey)
            entries = read
            Log.info("htpasswd: \(path) read: \(read.hashes.count) users")
            Self.warnAboutHashes(read, path: path)
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
}
