import Glibc

/// `berth fsck --repair`: applies the fix of each finding that has a safe one. Each fix looks again first
/// (a server on the root may have changed it since the check), so a repair while Berth serves is as safe as
/// online garbage collection, whose lock it holds: a corrupt blob is moved aside with its links, never
/// served again and never silently deleted; links are removed before the blob they name, so a manifest
/// pushed meanwhile is refused (blob unknown) rather than stored with a reference to nothing.
public struct StorageRepair {
    public enum Outcome: Equatable {
        case repaired(String)
        /// Nothing left to do: someone else put it right, or an earlier fix took this one along.
        case gone
        case notRepaired(String)
    }

    let store: RegistryStore
    /// When the check began (`StorageCheck.Options.now`): a link written since then is a push that wants the blob.
    let checkedAt: Double

    public init(store: RegistryStore, checkedAt: Double) {
        self.store = store
        self.checkedAt = checkedAt
    }

    public func repair(_ finding: StorageFinding) -> Outcome {
        switch finding.fix {
        case .quarantine(let digest, let links):
            return quarantine(digest, links: links)
        case .removeUnreferencedBlob(let digest, _):
            return removeUnreferenced(digest)
        case .removeLayerLink(let name, let digest):
            guard store.isLayerLinked(digest, in: name), store.blobSize(digest) == nil else { return .gone }
            return outcome((try? store.unlinkLayer(digest, in: name)) != nil, "removed the link")
        case .removeNamespaceLink(let relative, let digest):
            guard store.blobSize(digest) == nil else { return .gone }
            return removeFile(relative)
        case .deleteManifest(let name, let digest):
            guard store.isManifestLinked(digest, in: name), store.blobSize(digest) == nil else { return .gone }
            return outcome((try? store.deleteManifest(digest, in: name)) != nil, "removed the revision and the tags on it")
        case .deleteTag(let name, let tag):
            guard FileSystem.exists(store.path(.tagCurrentLink(name, tag))) else { return .gone }
            if let digest = store.resolveTag(tag, in: name), store.isManifestLinked(digest, in: name), store.blobSize(digest) != nil {
                return .gone  // moved to a manifest that is there meanwhile
            }
            return outcome((try? store.deleteTag(tag, in: name)) != nil, "removed the tag")
        case .removeFile(let relative):
            return removeFile(relative)
        case .removeTree(let relative):
            let directory = store.path(relative: relative)
            guard FileSystem.exists(directory) else { return .gone }
            FileSystem.removeTree(directory)
            return outcome(!FileSystem.exists(directory), "removed the directory")
        case .removeUpload(let owner, let id):
            return removeUpload(owner, id: id)
        case .removeDownload(let key):
            guard FileSystem.exists(store.path(.downloadLock(key: key))) else { return .gone }
            guard store.observeDownload(key) == .idle else { return .notRepaired("a download holds it now") }
            unlink(store.path(.downloadData(key: key)))
            unlink(store.path(.downloadLock(key: key)))
            return .repaired("removed the lock and the partial file")
        case .none(let reason):
            return .notRepaired(reason)
        }
    }

    /// Moves the blob's directory aside by one rename (so no request finds it from then on), then removes
    /// the links that name it: its repositories answer "blob unknown", and a push stores it again.
    private func quarantine(_ digest: Digest, links: [StorageFinding.BlobLink]) -> Outcome {
        let data = store.path(.blobData(digest))
        guard let computed = StorageCheck.hash(data), computed.digest != digest else { return .gone }
        let target = store.path(.quarantinedBlob(digest, id: FileSystem.randomIdentifier()))
        do {
            try FileSystem.makeDirectories(store.path(.quarantine))
            try FileSystem.rename(store.path(.blobDirectory(digest)), to: target, sync: store.fsync)
        } catch {
            return .notRepaired("\(error)")
        }
        store.changes.advance()
        for link in links {
            switch link {
            case .layer(let name): if store.isLayerLinked(digest, in: name) { try? store.unlinkLayer(digest, in: name) }
            case .manifest(let name): if store.isManifestLinked(digest, in: name) { try? store.deleteManifest(digest, in: name) }
            case .namespace(let relative): _ = removeFile(relative)
            }
        }
        return .repaired("moved to \(target.dropFirst(store.base.count + 1)), \(links.count) link\(links.count == 1 ? "" : "s") removed")
    }

    /// The check may have taken minutes (hashing): a push since then may have found the blob stored and
    /// referenced it (a manifest PUT or a mount refreshes the blob's time under its shard's lock). The removal
    /// is the sweep's own (`removeUnreferencedBlob`), under that lock, sparing a blob touched since the check.
    private func removeUnreferenced(_ digest: Digest) -> Outcome {
        guard FileSystem.exists(store.path(.blobData(digest))) else { return .gone }
        let linked = StorageCheck.repositories(in: store).filter { FileSystem.exists(store.path(.layerLink($0, digest))) }
        let isManifest = StorageRepair.isManifest(digest, store: store)
        let removed = (try? store.removeUnreferencedBlob(digest, epoch: checkedAt, links: linked.map { store.path(.layerLink($0, digest)) },
                                                         keep: { _ in isManifest })) ?? false
        guard removed else { return .gone }  // in use since the check
        return .repaired("removed the blob and \(linked.count) layer link\(linked.count == 1 ? "" : "s")")
    }

    private static func isManifest(_ digest: Digest, store: RegistryStore) -> Bool {
        StorageCheck.repositories(in: store).contains { store.isManifestLinked(digest, in: $0) }
    }

    /// An upload that a request is writing holds a lock on its data file: that one is left alone.
    private func removeUpload(_ owner: UploadOwner, id: String) -> Outcome {
        let directory = store.path(.upload(owner, id: id))
        guard FileSystem.isDirectory(directory) else { return .gone }
        let fd = open(store.path(.uploadData(owner, id: id)), O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return .notRepaired("a request is writing to it") }
            FileSystem.removeTree(directory)
        } else {
            FileSystem.removeTree(directory)
        }
        return outcome(!FileSystem.exists(directory), "removed the upload")
    }

    private func removeFile(_ relative: String) -> Outcome {
        let file = store.path(relative: relative)
        guard unlink(file) == 0 else { return errno == ENOENT ? .gone : .notRepaired(String(cString: strerror(errno))) }
        store.changes.advance()
        return .repaired("removed the file")
    }

    private func outcome(_ done: Bool, _ text: String) -> Outcome {
        done ? .repaired(text) : .notRepaired("failed: \(text)")
    }
}

extension RegistryStore {
    /// Runs `body` holding garbage collection's lock (`StoragePath.collectionLock`), waiting for a sweep in
    /// progress to end; a collection due meanwhile skips its turn.
    public func withCollectionLock<T>(_ body: () throws -> T) throws -> T {
        let lockPath = path(.collectionLock)
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw FileSystem.fail("open", lockPath) }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileSystem.fail("flock", lockPath) }
        }
        return try body()
    }
}
