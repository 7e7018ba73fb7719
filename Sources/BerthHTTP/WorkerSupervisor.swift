import CBerthShims
import CLibUV
import Glibc

/// Runs N copies of this program as worker processes that share one port (SO_REUSEPORT): restarts a
/// worker that dies, stops all on SIGTERM/SIGINT. Workers exit by themselves when the supervisor dies,
/// even by SIGKILL (PR_SET_PDEATHSIG), so no orphan keeps the port. Loop-confined.
public final class WorkerSupervisor {
    /// Set in a worker's environment: its index, and the supervisor's pid to watch.
    public static let indexVariable = "BERTH_WORKER_INDEX"
    public static let supervisorVariable = "BERTH_SUPERVISOR_PID"
    /// A directory private to this supervisor where workers publish their metrics (tmpfs when available).
    public static let metricsVariable = "BERTH_METRICS_DIR"

    /// Set in a worker's environment: the descriptor on which it tells the supervisor that it is ready.
    public static let readyVariable = "BERTH_READY_FD"

    private let loop: EventLoop
    private let arguments: [String]
    private let count: Int
    private var workers: [Int: UnsafeMutablePointer<uv_process_t>] = [:]
    /// Each worker's ready pipe, open until the worker has written to it or has died.
    private var readyPipes: [Int: UnsafeMutablePointer<uv_pipe_t>] = [:]
    private var restarts: [Int: RepeatingTimer] = [:]
    private var policy = WorkerRestartPolicy()
    private let readBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: 16)
    private var stopping = false
    private var signalHandles: [UnsafeMutablePointer<uv_signal_t>] = []
    public private(set) var exitStatus: Int32 = 0

    public init(loop: EventLoop, count: Int, arguments: [String]) {
        self.loop = loop
        self.count = count
        self.arguments = arguments
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
        setenv(Self.supervisorVariable, String(getpid()), 1)
        let shared = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        let metrics = "\(shared)/berth-\(getpid())"
        removeAbandonedDirectories(in: shared)
        mkdir(metrics, 0o700)
        setenv(Self.metricsVariable, metrics, 1)
        setenv(Self.readyVariable, "3", 1)
        defer { removeDirectory(metrics) }
        for index in 0..<count { start(index) }
        watch(SIGTERM)
        watch(SIGINT)
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

    private func start(_ index: Int) {
        setenv(Self.indexVariable, String(index), 1)
        let process = UnsafeMutablePointer<uv_process_t>.allocate(capacity: 1)
        process.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let pipe = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(loop.raw, pipe, 0)
        pipe.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let status = berth_spawn_worker(loop.raw, process, "/proc/self/exe", &cArguments, { process, status, signal in
            let supervisor = Unmanaged<WorkerSupervisor>.fromOpaque(process!.pointee.data).takeUnretainedValue()
            supervisor.exited(process!, status: status, signal: signal)
        }, pipe)
        cArguments.forEach { free($0) }
        guard status == 0 else {
            Log.error("cannot start worker \(index): \(String(cString: uv_strerror(status)))")
            // libuv initialises the handle before it forks, so it is closed like any other.
            closeHandle(process)
            closeHandle(pipe)
            return decide(index, status: 0, signal: 0)
        }
        workers[index] = process
        readyPipes[index] = pipe
        uv_read_start(UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_stream_t.self), { handle, _, buffer in
            let supervisor = Unmanaged<WorkerSupervisor>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            buffer!.pointee = uv_buf_init(supervisor.readBuffer, 16)
        }, { stream, count, _ in
            let supervisor = Unmanaged<WorkerSupervisor>.fromOpaque(stream!.pointee.data).takeUnretainedValue()
            supervisor.readyPipeAnswered(stream!, count: count)
        })
        Log.info("worker \(index) started (pid \(process.pointee.pid))")
    }

    /// A byte on a worker's pipe: it is ready. Its end (or an error) without one: it died first, which its
    /// exit reports.
    private func readyPipeAnswered(_ stream: UnsafeMutablePointer<uv_stream_t>, count: Int) {
        guard let index = readyPipes.first(where: { UnsafeMutableRawPointer($0.value) == UnsafeMutableRawPointer(stream) })?.key else { return }
        if count > 0 { policy.ready(index, at: loop.now) }
        if count != 0 { closeReadyPipe(index) }
    }

    private func closeReadyPipe(_ index: Int) {
        guard let pipe = readyPipes.removeValue(forKey: index) else { return }
        closeHandle(pipe)
    }

    private func closeHandle<Handle>(_ handle: UnsafeMutablePointer<Handle>) {
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { $0!.deallocate() }
    }

    private func exited(_ process: UnsafeMutablePointer<uv_process_t>, status: Int64, signal: Int32) {
        guard let index = workers.first(where: { $0.value == process })?.key else { return }
        workers[index] = nil
        closeHandle(process)
        // A worker that wrote its byte and died at once may be reaped before the byte is read: look first.
        if let pipe = readyPipes[index] {
            var descriptor = uv_os_fd_t()
            if uv_fileno(UnsafeMutableRawPointer(pipe).assumingMemoryBound(to: uv_handle_t.self), &descriptor) == 0,
               read(descriptor, readBuffer, 16) > 0 {
                policy.ready(index, at: loop.now)
            }
            closeReadyPipe(index)
        }
        if stopping {
            if workers.isEmpty { finish() }
            return
        }
        decide(index, status: status, signal: signal)
    }

    private func decide(_ index: Int, status: Int64, signal: Int32) {
        switch policy.exited(index, at: loop.now) {
        case .giveUp:
            Log.error("workers keep failing before they are ready; stopping")
            exitStatus = 1
            stop()
        case .restart(let delay):
            Log.warn("worker \(index) exited (status \(status), signal \(signal)); restarting in \(delay) ms")
            restarts[index] = loop.repeating(every: delay) { [unowned self] in
                restarts.removeValue(forKey: index)?.stop()
                start(index)
            }
        }
    }

    private func watch(_ number: Int32) {
        let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
        uv_signal_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_signal_start(handle, { handle, _ in
            Unmanaged<WorkerSupervisor>.fromOpaque(handle!.pointee.data).takeUnretainedValue().stop()
        }, number)
        signalHandles.append(handle)
    }

    /// Asks every worker to finish its in-flight requests and exit.
    private func stop() {
        guard !stopping else { return }
        stopping = true
        restarts.values.forEach { $0.stop() }
        restarts = [:]
        for process in workers.values { uv_process_kill(process, SIGTERM) }
        if workers.isEmpty { finish() }
    }

    private func finish() {
        signalHandles.forEach { closeHandle($0) }
        signalHandles = []
    }
}
