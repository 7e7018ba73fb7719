/// Which generation of workers serves, and which one a reload is starting; pure, so every rule is
/// unit-tested. Generation 0 serves from the start (its start-up failures are the restart policy's). A reload
/// starts the next generation beside the serving one, on the same listening socket: once every new worker is
/// ready the others are told to drain, so no connection goes unanswered; if a new worker exits first, the new
/// generation is stopped and the serving one goes on as if nothing had been asked. A reload asked for while
/// one is starting runs when that one is done, so the last signal always reads the latest file.
public struct WorkerGenerations {
    public enum Action: Equatable {
        /// Read the configuration again; if it loads, call `starting(count:)` and start that many workers.
        case prepareReload
        /// `serving` is complete and ready: every worker of another generation is to drain and exit.
        case retireAllBut(serving: Int)
        /// A worker of this starting generation exited before the generation served: stop the rest of it.
        case abandon(generation: Int)
    }

    public private(set) var serving = 0
    private var latest = 0
    private var starting: Int?
    private var startingCount = 0
    private var startingReady: Set<Int> = []
    private var reloadAgain = false

    public init() {}

    /// The number the next generation will have.
    public var next: Int { latest + 1 }
    public var isStarting: Bool { starting != nil }

    public mutating func reloadRequested() -> [Action] {
        if starting != nil {
            reloadAgain = true
            return []
        }
        return [.prepareReload]
    }

    /// The configuration loaded: `count` workers of the returned generation are to be started.
    public mutating func starting(count: Int) -> Int {
        latest += 1
        starting = latest
        startingCount = count
        startingReady = []
        return latest
    }

    public mutating func ready(generation: Int, index: Int) -> [Action] {
        guard generation == starting else { return [] }
        startingReady.insert(index)
        guard startingReady.count >= startingCount else { return [] }
        serving = generation
        starting = nil
        return [.retireAllBut(serving: generation)] + queuedReload()
    }

    /// A worker of another generation than the serving one exited (the serving one's are the restart policy's).
    public mutating func exited(generation: Int) -> [Action] {
        guard generation == starting else { return [] } // a retired or abandoned worker, done draining
        starting = nil
        return [.abandon(generation: generation)] + queuedReload()
    }

    private mutating func queuedReload() -> [Action] {
        guard reloadAgain else { return [] }
        reloadAgain = false
        return [.prepareReload]
    }
}
