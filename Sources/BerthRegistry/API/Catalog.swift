import BerthHTTP
import BerthStorage

/// The sorted repository names, walked from disk once and reused by the page requests that follow, so
/// paging through 10,000 repositories is not 100 directory walks. The store replaces a marker file when a
/// repository appears or goes (in any worker process); one stat of it tells whether the list still holds.
/// A walk is also redone after `freshness`, for repositories another program (registry:2) created. Loop-confined.
final class Catalog {
    private let freshnessMilliseconds: UInt64
    private var cached: [String] = []
    private var walkedAt: UInt64?
    private var marker: FileIdentity?
    private var waiting: [([String]) -> Void] = []

    init(freshnessMilliseconds: UInt64 = 30_000) {
        self.freshnessMilliseconds = freshnessMilliseconds
    }

    func names(loop: EventLoop, store: RegistryStore, _ completion: @escaping ([String]) -> Void) {
        let current = store.catalogMarker
        if let walkedAt, loop.now - walkedAt < freshnessMilliseconds, current == marker {
            completion(cached)
            return
        }
        waiting.append(completion)
        guard waiting.count == 1 else { return }
        loop.offload({ store.repositories() }, then: { [self] names in
            cached = names
            walkedAt = loop.now
            marker = current
            let callbacks = waiting
            waiting = []
            callbacks.forEach { $0(names) }
        })
    }
}
