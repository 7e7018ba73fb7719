import BerthHTTP
import CBerthShims
import CLibUV
import Glibc

/// What one generation of workers runs with: variables set in their environment only (the configuration
/// they load); `files` are removed when the generation stops serving.
public struct WorkerGeneration {
    public var environment: [(name: String, value: String)]
    public var files: [String]

    public init(environment: [(name: String, value: String)] = [], files: [String] = []) {
        self.environment = environment
        self.files = files
    }
}

/// Runs one copy of this program per listening socket as worker processes, which inherit the sockets the
/// supervisor opened (worker i takes socket i, in every generation): restarts a worker that dies, replaces them all on SIGHUP (a new
/// generation with the configuration read again), stops all on SIGTERM/SIGINT. Workers exit by themselves
/// when the supervisor dies, even by SIGKILL (PR_SET_PDEATHSIG), so no orphan keeps the port. Loop-confined.
public final class WorkerSupervisor {
    /// Set in a worker's environment: its index, and the supervisor's pid to watch.
    public static let indexVariable = "BERTH_WORKER_INDEX"
    public static let supervisorVariable = "BERTH_SUPERVISOR_PID"
    /// A directory private to this supervisor (tmpfs when available) where workers publish their metrics and
    /// find the copy of the configuration their generation loads.
    public static let metricsVariable = "BERTH_METRICS_DIR"

    /// Set in a worker's environment: the descriptor on which it tells the supervisor that it is ready.
    public static let readyVariable = "BERTH_READY_FD"

    private struct Worker {
        let generation: Int
        let index: Int
        /// Open until the worker has written to it or has died.
        var readyPipe: UnsafeMutablePointer<uv_pipe_t>?
    }

    private let loop: EventLoop
    private let arguments: [String]
    private let sockets: [ListeningSocket]
    /// Gives the workers of a generation (0 at start, then one per SIGHUP), or nil when the configuration
    /// does not load (having said why): then nothing changes.
    private let prepare: (_ generation: Int, _ directory: String) -> WorkerGeneration?
    private var workers: [UnsafeMutablePointer<uv_process_t>: Worker] = [:]
    private var specifications: [Int: WorkerGeneration] = [:]
    private var generations = WorkerGenerations()
    /// Restarts of the serving generation's workers, by index.
    private var restarts: [Int: RepeatingTimer] = [:]
    private var policy = WorkerRestartPolicy()
    private var directory = ""
    private let readBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: 16)
    private var stopping = false
    private var signalHandles: [UnsafeMutablePointer<uv_signal_t>] = []
    public private(set) var exitStatus: Int32 = 0

    public init(loop: EventLoop, sockets: [ListeningSocket], arguments: [String],
                prepare: @escaping (_ generation: Int, _ directory: String) -> WorkerGeneration?) {
        self.loop = loop
        self.sockets = sockets
        self.arguments = arguments
        self.prepare = prepare
    }

    deinit {
        readBuffer.deallocate()
    }

    /// In a worker: the index this process serves as, after arranging to die with the supervisor; nil in
    /// a process that is not a worker. Exits at once when the supervisor is already gone.
    public static func workerIndex() -> Int? {
        guard let text = getenv(indexVariable).map({ String(cString: $0) }), let index = Int(text),
              let parent = getenv(supervisorVariable).map({ String(cString: $0) }), let pid = Int32(parent) else { return nil }
        if berth_die_with_parent(pid) != 0 { exit(0) }
        return index
    }

    /// In a worker, once it listens: tells the supervisor, so that a later death of this worker is a reason to
    /// start it again, never to give up. Nothing to do in a process that is not a worker.
    public static func signalReady() {
        guard let text = getenv(readyVariable).map({ String(cString: $0) }), let descriptor = Int32(text) else { return }
        unsetenv(readyVariable)
        var byte: UInt8 = 1
        _ = write(descriptor, &byte, 1)
        close(descriptor)
    }

    /// Starts the workers and runs until they have all stopped.
    public func run() {
        watch(SIGHUP)
        watch(SIGTERM)
        watch(SIGINT)
        setenv(Self.supervisorVariable, String(getpid()), 1)
        let shared = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        directory = "\(shared)/berth-\(getpid())"
        removeAbandonedDirectories(in: shared)
        mkdir(directory, 0o700)
        setenv(Self.metricsVariable, directory, 1)
        setenv(Self.readyVariable, "3", 1)
        setenv(ListeningSocket.descriptorVariable, String(ListeningSocket.inheritedDescriptor), 1)
        defer { removeDirectory(directory) }
        if let first = prepare(0, directory) {
            specifications[0] = first
            for index in sockets.indices { start(index, generation: 0) }
        } else {
            exitStatus = 2
            stop()
        }
        loop.run()
    }

    /// The metrics directories of supervisors that were killed before they could remove their own: ours
    /// (same user), real directories, named for a process that no longer exists. A reused pid keeps its
    /// directory until that process is gone too.
    private func removeAbandonedDirectories(in shared: String) {
        guard let handle = opendir(shared) else { return }
        var abandoned: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name.hasPrefix("berth-"), let pid = Int32(name.dropFirst(6)), pid > 0, pid != getpid() else { continue }
            var info = stat()
            guard lstat("\(shared)/\(name)", &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid(),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            abandoned.append("\(shared)/\(name)")
        }
        closedir(handle)
        for path in abandoned { removeDirectory(path) }
    }

    private func removeDirectory(_ path: String) {
        if let handle = opendir(path) {
            while let entry = readdir(handle) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { unlink("\(path)/\(name)") }
            }
            closedir(handle)
        }
        rmdir(path)
    }

    private func start(_ index: Int, generation: Int) {
        setenv(Self.indexVariable, String(index), 1)
        // Every generation sets the same names, so a variable of one never reaches a worker of another.
        specifications[generation]?.environment.forEach { setenv($0.name, $0.value, 1) }
        let process = UnsafeMutablePointer<uv_process_t>.allocate(capacity: 1)
        process.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let pipe = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(loop.raw, pipe, 0)
        pipe.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let status = berth_spawn_worker(loop.raw, process, "/proc/self/exe", &cArguments, { process, status, signal in
            let supervisor = Unmanaged<WorkerSupervisor>.fromOpaque(process!.pointee.data).takeUnretainedValue()
            supervisor.exited(process!, status: status, signal: signal)
        }, pipe, sockets[index].descriptor)
        cArguments.forEach { free($0) }
        guard status == 0 else {
            Log.error("cannot start worker \(index): \(String(cString: uv_strerror(status)))")
            // libuv initialises the handle before it forks, so it is closed like any other.
            closeHandle(process)
            closeHandle(pipe)
            return gone(Worker(generation: generation, index: index), status: 0, signal: 0)
        }
        workers[process] = Worker(generation: generation, index: index, readyPipe: pipe)
        uv_read_start(UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_stream_t.self), { handle, _, buffer in
            let supervisor = Unmanaged<WorkerSupervisor>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            buffer!.pointee = uv_buf_init(supervisor.readBuffer, 16)
        }, { stream, count, _ in
            let supervisor = Unmanaged<WorkerSupervisor>.fromOpaque(stream!.pointee.data).takeUnretainedValue()
            supervisor.readyPipeAnswered(stream!, count: count)
        })
        Log.info("worker \(index) started (pid \(process.pointee.pid)\(generation > 0 ? ", generation \(generation)" : ""))")
    }

    /// A byte on a worker's pipe: it is ready. Its end (or an error) without one: it died first, which its
    /// exit reports.
    private func readyPipeAnswered(_ stream: UnsafeMutablePointer<uv_stream_t>, count: Int) {
        guard let process = workers.first(where: { $0.value.readyPipe.map(UnsafeMutableRawPointer.init) == UnsafeMutableRawPointer(stream) })?.key,
              let worker = workers[process] else { return }
        if count != 0 { closeReadyPipe(process) }
        if count > 0 { ready(worker) }
    }

    private func closeReadyPipe(_ process: UnsafeMutablePointer<uv_process_t>) {
        guard let pipe = workers[process]?.readyPipe else { return }
        workers[process]?.readyPipe = nil
        closeHandle(pipe)
    }

    private func ready(_ worker: Worker) {
        if worker.generation == generations.serving { return policy.ready(worker.index, at: loop.now) }
        perform(generations.ready(generation: worker.generation, index: worker.index))
    }

    private func closeHandle<Handle>(_ handle: UnsafeMutablePointer<Handle>) {
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { $0!.deallocate() }
    }

    private func exited(_ process: UnsafeMutablePointer<uv_process_t>, status: Int64, signal: Int32) {
        guard let worker = workers[process] else { return }
        // A worker that wrote its byte and died at once may be reaped before the byte is read: look first.
        if let pipe = worker.readyPipe {
            var descriptor = uv_os_fd_t()
            let wasReady = uv_fileno(UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_handle_t.self), &descriptor) == 0
                && read(descriptor, readBuffer, 16) > 0
            closeReadyPipe(process)
            if wasReady { ready(worker) }
        }
        workers[process] = nil
        closeHandle(process)
        gone(worker, status: status, signal: signal)
    }

    private func gone(_ worker: Worker, status: Int64, signal: Int32) {
        if stopping {
            if workers.isEmpty { finish() }
            return
        }
        if worker.generation == generations.serving { return decide(worker.index, status: status, signal: signal) }
        let actions = generations.exited(generation: worker.generation)
        if !actions.isEmpty {
            Log.error("reload abandoned: worker \(worker.index) of generation \(worker.generation) exited before it was ready "
                      + "(status \(status), signal \(signal)); the previous configuration keeps serving")
        }
        perform(actions)
    }

    private func decide(_ index: Int, status: Int64, signal: Int32) {
        switch policy.exited(index, at: loop.now) {
        case .giveUp:
            Log.error("workers keep failing before they are ready; stopping")
            exitStatus = 1
            stop()
        case .restart(let delay):
            Log.warn("worker \(index) exited (status \(status), signal \(signal)); restarting in \(delay) ms")
            let generation = generations.serving
            restarts[index] = loop.repeating(every: delay) { [unowned self] in
                restarts.removeValue(forKey: index)?.stop()
                start(index, generation: generation)
            }
        }
    }

    /// SIGHUP: a new generation with the configuration read again, beside the serving one until it is ready.
    private func reload() {
        guard !stopping else { return }
        if generations.isStarting { Log.info("SIGHUP: a reload is starting already; reading the configuration again after it") }
        perform(generations.reloadRequested())
    }

    private func perform(_ actions: [WorkerGenerations.Action]) {
        for action in actions {
            switch action {
            case .prepareReload:
                let number = generations.next
                guard let specification = prepare(number, directory) else { continue }
                let generation = generations.starting(count: sockets.count)
                specifications[generation] = specification
                Log.info("SIGHUP: configuration reloaded; starting \(sockets.count) workers (generation \(generation))")
                for index in sockets.indices { start(index, generation: generation) }
            case .retireAllBut(let serving):
                restarts.values.forEach { $0.stop() }
                restarts = [:]
                policy = WorkerRestartPolicy()
                var retiring = 0
                for (process, worker) in workers {
                    if worker.generation == serving {
                        policy.ready(worker.index, at: loop.now)
                    } else {
                        // A worker that listens drains without a deadline (see HTTPServer.shutdown); one still
                        // starting has no handler yet, and SIGQUIT's default would dump its core.
                        uv_process_kill(process, worker.readyPipe == nil ? SIGQUIT : SIGTERM)
                        retiring += 1
                    }
                }
                for generation in specifications.keys where generation != serving { discard(generation) }
                Log.info("generation \(serving) serving; \(retiring) worker(s) of the previous configuration finishing their requests")
            case .abandon(let generation):
                for (process, worker) in workers where worker.generation == generation { uv_process_kill(process, SIGTERM) }
                discard(generation)
            }
        }
    }

    private func discard(_ generation: Int) {
        specifications.removeValue(forKey: generation)?.files.forEach { unlink($0) }
    }

    private func watch(_ number: Int32) {
        let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
        uv_signal_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_signal_start(handle, { handle, number in
            let supervisor = Unmanaged<WorkerSupervisor>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            if number == SIGHUP { supervisor.reload() } else { supervisor.stop() }
        }, number)
        signalHandles.append(handle)
    }

    /// Asks every worker to finish its in-flight requests and exit.
    private func stop() {
        guard !stopping else { return }
        stopping = true
        restarts.values.forEach { $0.stop() }
        restarts = [:]
        for process in workers.keys { uv_process_kill(process, SIGTERM) }
        if workers.isEmpty { finish() }
    }

    private func finish() {
        signalHandles.forEach { closeHandle($0) }
        signalHandles = []
    }
}
