import ArgumentParser
import BerthStorage
import Foundation

/// `berth fsck`: `StorageCheck` over a root, and with `--repair` `StorageRepair` on what it found.
struct Fsck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check the storage: re-hash blobs, follow every link and manifest reference, list orphans.",
        discussion: """
            Damage: corrupt-blob (bytes that do not hash to their name), missing-reference (a manifest names a \
            blob that is not stored), dangling-manifest, dangling-tag, bad-link. Orphans: dangling-link (a layer \
            or namespace link to a removed blob), unreferenced-blob (older than gc.delay), stale-upload (older \
            than uploads.maxage), stale-temporary (.tmp-* files and retired uploads older than an hour), \
            abandoned-download. Paths are relative to <rootdirectory>/docker/registry/v2.

            --repair moves a corrupt blob to berth-quarantine/ under that directory and removes its links (it is \
            never served again; push the image again to restore it), removes dangling links, tags and \
            revisions, unreferenced blobs with their layer links, stale uploads, temporary files and abandoned \
            downloads. A missing reference has no repair. fsck holds garbage collection's lock while it runs, \
            and may run while Berth serves the root: each repair looks again just before it acts.

            Exit status: 0 nothing found (or everything found repaired), 1 findings remain, 2 usage or \
            configuration error.
            """)

    @OptionGroup var storage: StoreOptions

    @Flag(name: .long, help: "Hash every manifest and a random sixteenth of the other blobs, not every blob.")
    var quick = false

    @Flag(name: .long, help: "Repair what is safe to repair (see above).")
    var repair = false

    @Flag(name: .long, help: "Print one JSON object instead of lines.")
    var json = false

    func run() throws {
        let (settings, store) = try storage.open(unusableRoot: 2, existing: true)
        var options = StorageCheck.Options()
        options.quick = quick
        options.uploadMaxAgeSeconds = settings.uploadMaxAgeSeconds
        options.blobDelaySeconds = settings.gcDelay
        let (report, outcomes) = try store.withCollectionLock {
            let report = StorageCheck(store: store, options: options).run()
            let repairer = StorageRepair(store: store, checkedAt: options.now)
            return (report, repair ? report.findings.map { repairer.repair($0) } : [])
        }
        let remaining = outcomes.isEmpty ? report.findings.count : outcomes.filter { !$0.isDone }.count
        if json {
            printJSON(report, outcomes)
        } else {
            printLines(report, outcomes, remaining: remaining)
        }
        if remaining > 0 { throw ExitCode(1) }
    }

    private func printLines(_ report: StorageCheck.Report, _ outcomes: [StorageRepair.Outcome], remaining: Int) {
        for (index, finding) in report.findings.enumerated() {
            let action = index < outcomes.count ? outcomes[index].text : "repair: \(finding.repair)"
            print("\(finding.kind.rawValue) \(finding.path): \(finding.detail) (\(action))")
        }
        let damage = report.findings.filter(\.kind.isDamage).count
        print("\(report.repositories) repositories, \(report.manifests) manifests, \(report.blobs) blobs "
              + "(\(report.blobsHashed) hashed, \(report.bytesHashed) bytes): \(report.findings.count) findings "
              + "(\(damage) damage, \(report.findings.count - damage) orphans)"
              + (repair ? ", \(report.findings.count - remaining) repaired" : ""))
    }

    private func printJSON(_ report: StorageCheck.Report, _ outcomes: [StorageRepair.Outcome]) {
        let findings: [[String: Any]] = report.findings.enumerated().map { index, finding in
            var entry: [String: Any] = ["kind": finding.kind.rawValue, "damage": finding.kind.isDamage, "path": finding.path,
                                        "detail": finding.detail, "repair": finding.repair]
            if index < outcomes.count {
                entry["repaired"] = outcomes[index].isDone
                entry["result"] = outcomes[index].text
            }
            return entry
        }
        let object: [String: Any] = ["repositories": report.repositories, "manifests": report.manifests, "blobs": report.blobs,
                                     "blobsHashed": report.blobsHashed, "bytesHashed": report.bytesHashed, "findings": findings]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
    }
}

private extension StorageRepair.Outcome {
    var isDone: Bool {
        if case .notRepaired = self { return false }
        return true
    }

    var text: String {
        switch self {
        case .repaired(let what): return "repaired: \(what)"
        case .gone: return "repaired: already gone"
        case .notRepaired(let why): return "not repaired: \(why)"
        }
    }
}
