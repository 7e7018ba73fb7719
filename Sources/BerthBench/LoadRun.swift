import BerthHTTP
import BerthUpstream
import CLibUV
import Glibc

/// When a run stops issuing operations: after a count of them, or once a duration has passed (operations
/// in flight then finish and count).
public enum StopCondition: Equatable {
    case operations(Int)
    case duration(milliseconds: UInt64)
}

/// One scenario's load on one loop: `concurrency` connections, each running operations one after another
/// until the stop condition. Loop-confined. It owns its connections for the whole run.
final class LoadRun {
    let loop: EventLoop
    var address: sockaddr_storage
    let scenario: BenchScenario
    /// Over `https://`: the trust settings, and the name the certificate must carry.
    let tlsContext: TLSContext?
    let tlsHost: String
    /// When the registry challenges with Bearer: answers its 401s.
    let authorizer: BenchAuthorizer?
    /// Connections read the headers of every answer, to keep a 401's `WWW-Authenticate` (with an authorizer,
    /// and for the probe).
    let readsChallenges: Bool
    /// Slots whose token could not be had: their 401s are errors, not fetched for again.
    private var refusedSlots: Set<Int> = []
    /// Connections with nothing to send until another's answer releases work (pull-image's layers).
    private var parked: [BenchConnection] = []
    private let stop: StopCondition
    private var connections: [BenchConnection] = []
    private var open = 0
    private var issued = 0
    private var stopping = false
    private var timer: UnsafeMutablePointer<uv_timer_t>?
    /// On a terminal: one status line, rewritten every second (off when stderr is not a TTY).
    private var progress: RepeatingTimer?
    /// With `--svg`: the counts every `sampleMilliseconds`, for the throughput-over-time chart.
    private let samplesTimeline: Bool
    static let sampleMilliseconds: UInt64 = 250
    private var sampler: RepeatingTimer?
    /// A paced scenario's clock: parked connections look for an operation that is due.
    private var pacer: RepeatingTimer?
    private(set) var result = RunResult()
    private var started: UInt64 = 0
    private(set) var lastAnswer: UInt64 = 0

    /// A connect or request that waits this long fails (`timeout`), so a stalled server cannot hang the run.
    private let timeoutMilliseconds: UInt64
    private var watchdog: RepeatingTimer?

    init(loop: EventLoop, address: sockaddr_storage, scenario: BenchScenario, concurrency: Int, stop: StopCondition,
         timeoutMilliseconds: UInt64, tls: (context: TLSContext, host: String)? = nil, authorizer: BenchAuthorizer? = nil,
         readsChallenges: Bool = false, samplesTimeline: Bool = false) {
        self.samplesTimeline = samplesTimeline
        self.readsChallenges = readsChallenges || authorizer != nil
        self.loop = loop
        tlsContext = tls?.context
        tlsHost = tls?.host ?? ""
        self.authorizer = authorizer
        self.timeoutMilliseconds = timeoutMilliseconds
        self.address = address
        self.scenario = scenario
        self.stop = stop
        var count = concurrency
        if case .operations(let limit) = stop { count = min(count, limit) }
        if let limit = scenario.operationLimit { count = min(count, limit) }
        connections = (0..<max(count, 1)).map { _ in BenchConnection(run: self) }
    }

    /// Runs the load to its end; the loop returns once every connection (and the timer) is closed.
    func run() -> RunResult {
        started = uv_hrtime()
        if case .duration(let milliseconds) = stop {
            let timer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
            uv_timer_init(loop.raw, timer)
            timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            uv_timer_start(timer, { timer in
                Unmanaged<LoadRun>.fromOpaque(timer!.pointee.data).takeUnretainedValue().stopping = true
            }, milliseconds, 0)
            self.timer = timer
        }
        if isatty(STDERR_FILENO) == 1, scenario.operationLimit == nil {
            progress = loop.repeating(every: 1000) { [unowned self] in
                let seconds = Double(uv_hrtime() - started) / 1e9
                fputs("\r\u{1b}[K\(scenario.name): \(result.requests) requests in \(Int(seconds)) s, "
                      + "\(Int(Double(result.requests) / seconds)) requests/s, \(result.errorCount) errors", stderr)
            }
        }
        if samplesTimeline {
            sampler = loop.repeating(every: LoadRun.sampleMilliseconds) { [unowned self] in
                result.timeline.append((requests: result.requests, bytes: result.bytesReceived + result.bytesSent))
            }
        }
        if scenario.isPaced {
            pacer = loop.repeating(every: 1) { [unowned self] in wakeParked() }
        }
        // One timer for all connections, not one per request: a check per second is precise enough for a timeout.
        watchdog = loop.repeating(every: min(1000, max(timeoutMilliseconds / 4, 10))) { [unowned self] in
            let now = uv_now(loop.raw)
            for connection in connections where connection.isWaiting && now - connection.waitingSince >= timeoutMilliseconds {
                connection.timedOut()
            }
        }
        open = connections.count
        for connection in connections { connection.connect() }
        loop.run()
        result.elapsedNanoseconds = (lastAnswer > started ? lastAnswer : uv_hrtime()) - started
        return result
    }

    private var mayStart: Bool {
        if stopping { return false }
        if let limit = scenario.operationLimit, issued >= limit { return false }
        if case .operations(let limit) = stop { return issued < limit }
        return true
    }

    func nextRequest(for connection: BenchConnection, now: UInt64) -> BenchRequest? {
        if connection.operation >= 0 {
            defer { connection.pending = nil }
            return connection.pending
        }
        guard mayStart else { return nil }
        // A scenario that has no step 0 for this operation is out of work.
        guard let request = scenario.request(operation: issued, step: 0, after: nil) else { return nil }
        connection.operation = issued
        connection.step = 0
        connection.challenged = false
        connection.operationStart = now
        issued += 1
        result.bytesSent += request.body.count
        return request
    }

    func answered(_ connection: BenchConnection, _ response: BenchResponse, expected: ClosedRange<Int>) {
        defer { wakeParked() }
        let now = uv_hrtime()
        if response.status == 401, let authorizer, let challenge = response.challenge, !connection.challenged,
           !refusedSlots.contains(connection.request.authSlot.rawValue) {
            return awaitToken(connection, authorizer: authorizer, challenge: challenge, since: now)
        }
        lastAnswer = now
        result.requests += 1
        result.bytesReceived += response.bodyBytes
        var failed = false
        if !expected.contains(response.status) {
            result.errorsByStatus[response.status, default: 0] += 1
            failed = true
        } else if response.digestMatched == false {
            result.digestMismatches += 1
            failed = true
        }
        if !failed, let next = scenario.request(operation: connection.operation, step: connection.step + 1, after: response) {
            connection.step += 1
            result.bytesSent += next.body.count
            connection.pending = next
            return
        }
        if !failed {
            result.operations += 1
            result.latency.record(now - connection.operationStart)
        } else {
            result.failedOperations += 1
            scenario.failed(operation: connection.operation)
        }
        connection.operation = -1
    }

    /// Whether `connection`, which has no request now, should wait for one (the scenario has work in flight
    /// that will release more); if so it is woken at the next answer.
    func park(_ connection: BenchConnection) -> Bool {
        guard mayStart, scenario.hasWorkPending else { return false }
        parked.append(connection)
        return true
    }

    private func wakeParked() {
        guard !parked.isEmpty else { return }
        let waking = parked
        parked = []
        for connection in waking { connection.resume() }
    }

    /// A Bearer challenge: the request goes again once its token is in force. Neither the 401 nor the
    /// token fetch is counted or timed as the scenario's; a second challenge in one operation is an error.
    private func awaitToken(_ connection: BenchConnection, authorizer: BenchAuthorizer, challenge: String, since: UInt64) {
        result.challenges += 1
        connection.challenged = true
        connection.pending = connection.request
        connection.awaitingToken = true
        let slot = connection.request.authSlot
        authorizer.answer(challenge, slot: slot, refusedOwnToken: connection.sentToken) { [unowned self] reason in
            if let reason {
                refusedSlots.insert(slot.rawValue)
                result.tokenFailures[reason, default: 0] += 1
                result.failedOperations += 1
                connection.pending = nil
                connection.operation = -1
            } else if connection.step == 0 {
                connection.operationStart = uv_hrtime()
            } else {
                connection.operationStart += uv_hrtime() - since
            }
            connection.resume()
        }
    }

    func requestFailed(_ connection: BenchConnection, timedOut: Bool) {
        defer { wakeParked() }
        if timedOut { result.timeouts += 1 } else { result.connectionErrors += 1 }
        result.failedOperations += 1
        if connection.operation >= 0 { scenario.failed(operation: connection.operation) }
        connection.pending = nil
        connection.operation = -1
    }

    func connectFailed(_ reason: String) {
        result.connectFailures[reason, default: 0] += 1
    }

    func connectionClosed(_ connection: BenchConnection) {
        open -= 1
        guard open == 0 else { return }
        watchdog?.stop()
        watchdog = nil
        sampler?.stop()
        sampler = nil
        pacer?.stop()
        pacer = nil
        if let progress {
            progress.stop()
            self.progress = nil
            fputs("\r\u{1b}[K", stderr)
        }
        guard let timer else { return }
        self.timer = nil
        uv_close(UnsafeMutableRawPointer(timer).assumingMemoryBound(to: uv_handle_t.self)) { handle in
            handle!.deallocate()
        }
    }
}

/// What a run counted. Latency is of operations that succeeded (failed ones are counted, not timed).
public struct RunResult {
    public var requests = 0
    public var operations = 0
    public var failedOperations = 0
    public var bytesReceived = 0
    public var bytesSent = 0
    public var errorsByStatus: [Int: Int] = [:]
    public var digestMismatches = 0
    /// Requests that got no answer (the connection failed or was closed under them).
    public var connectionErrors = 0
    /// Requests with no answer within `--timeout`.
    public var timeouts = 0
    public var connectFailures: [String: Int] = [:]
    /// 401s with a Bearer challenge, answered with a token and sent again (not counted in `requests`).
    public var challenges = 0
    /// Operations given up because no token came, by reason.
    public var tokenFailures: [String: Int] = [:]
    /// pull-image: the time of each whole image pulled, and the images of which a request failed.
    public var imageLatency: LatencyHistogram?
    public var failedImages = 0
    public var elapsedNanoseconds: UInt64 = 0
    public var latency = LatencyHistogram()
    /// With `--svg`: requests answered and bytes moved so far, every LoadRun.sampleMilliseconds.
    public var timeline: [(requests: Int, bytes: Int)] = []

    public init() {}

    public var errorCount: Int {
        errorsByStatus.values.reduce(0, +) + digestMismatches + connectionErrors + timeouts + connectFailures.values.reduce(0, +)
            + tokenFailures.values.reduce(0, +)
    }
}
