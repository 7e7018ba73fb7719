@testable import BerthStorage
import XCTest

/// The layout is the compatibility contract: registry:2 must serve a root Berth wrote, and Berth one that
/// registry:2 wrote. Each registry:2 string below is its `registry/storage/paths.go` for the same spec.
final class StoragePathTests: XCTestCase {
    private let hex = "ab" + String(repeating: "0123456789abcdef", count: 3) + "0123456789abcd"
    private var digest: Digest { Digest("sha256:" + hex)! }
    private let repository = RepositoryName("team/app")!
    private let tag = Tag("v1.0")!

    /// registry:2's paths, relative to `/docker/registry/v2`.
    private var registry2: [(StoragePath, String)] {
        [
            (.blobDirectory(digest), "blobs/sha256/ab/\(hex)"),
            (.blobData(digest), "blobs/sha256/ab/\(hex)/data"),
            (.repositories, "repositories"),
            (.repository(repository), "repositories/team/app"),
            (.manifests(repository), "repositories/team/app/_manifests"),
            (.layerDirectory(repository), "repositories/team/app/_layers"),
            (.layers(repository), "repositories/team/app/_layers/sha256"),
            (.layerLink(repository, digest), "repositories/team/app/_layers/sha256/\(hex)/link"),
            (.manifestRevisions(repository), "repositories/team/app/_manifests/revisions/sha256"),
            (.manifestRevisionLink(repository, digest), "repositories/team/app/_manifests/revisions/sha256/\(hex)/link"),
            (.tags(repository), "repositories/team/app/_manifests/tags"),
            (.tag(repository, tag), "repositories/team/app/_manifests/tags/v1.0"),
            (.tagCurrentLink(repository, tag), "repositories/team/app/_manifests/tags/v1.0/current/link"),
            (.tagIndexLink(repository, tag, digest), "repositories/team/app/_manifests/tags/v1.0/index/sha256/\(hex)/link"),
            (.uploads(.repository(repository)), "repositories/team/app/_uploads"),
            (.upload(.repository(repository), id: "u1"), "repositories/team/app/_uploads/u1"),
            (.uploadData(.repository(repository), id: "u1"), "repositories/team/app/_uploads/u1/data"),
            (.uploadStartedAt(.repository(repository), id: "u1"), "repositories/team/app/_uploads/u1/startedat"),
            (.uploadHashStates(.repository(repository), id: "u1"), "repositories/team/app/_uploads/u1/hashstates/sha256"),
            (.uploadHashState(.repository(repository), id: "u1", offset: 5_242_880), "repositories/team/app/_uploads/u1/hashstates/sha256/5242880"),
            (.blobs, "blobs/sha256"),
            (.blobShard(prefix: "ab"), "blobs/sha256/ab"),
        ]
    }

    /// Berth's own additions: registry:2 ignores them, and they must not collide with what it reads.
    private var berths: [(StoragePath, String)] {
        let namespace = Namespace("team/a")!
        return [
            (.referrers(repository, subject: digest), "repositories/team/app/_referrers/sha256/\(hex)"),
            (.referrersByAlgorithm(repository, subject: digest, algorithm: "sha256"), "repositories/team/app/_referrers/sha256/\(hex)/sha256"),
            (.referrerLink(repository, subject: digest, referrer: digest), "repositories/team/app/_referrers/sha256/\(hex)/sha256/\(hex)/link"),
            (.namespaces, "kraken/namespaces"),
            (.namespace(namespace), "kraken/namespaces/team%2Fa"),
            (.namespaceLink(namespace, digest), "kraken/namespaces/team%2Fa/sha256/\(hex)/link"),
            (.namespaceLinks(directoryName: "team%2Fa"), "kraken/namespaces/team%2Fa/sha256"),
            (.listedNamespaceLink(directoryName: "team%2Fa", digest), "kraken/namespaces/team%2Fa/sha256/\(hex)/link"),
            (.uploads(.namespace(namespace)), "kraken/namespaces/team%2Fa/_uploads"),
            (.upload(.namespace(namespace), id: "u1"), "kraken/namespaces/team%2Fa/_uploads/u1"),
            (.downloads, "berth-mirror/downloads"),
            (.downloadLock(key: "k"), "berth-mirror/downloads/k.lock"),
            (.downloadData(key: "k"), "berth-mirror/downloads/k.partial"),
            (.retired, "berth-retired"),
            (.retiredEntry(name: "r1"), "berth-retired/r1"),
            (.blobShardLock(digest), "berth-locks/blobs/sha256/ab"),
            (.quarantine, "berth-quarantine"),
            (.quarantinedBlob(digest, id: "q1"), "berth-quarantine/sha256-\(hex)-q1"),
            (.collectionLock, ".berth-gc.lock"),
            (.catalogMarker, ".berth-catalog"),
            (.changeCounter, ".berth-changes"),
            (.healthProbe(pid: 42), ".berth-health-42"),
        ]
    }

    func test_each_registry2_path_is_registry2s_string() {
        for (path, expected) in registry2 {
            XCTAssertEqual(path.relative, expected, "\(path)")
        }
    }

    func test_each_path_of_berths_own_is_pinned() {
        for (path, expected) in berths {
            XCTAssertEqual(path.relative, expected, "\(path)")
        }
    }

    /// Every case is in one of the two tables: a case added without a pinned string fails to compile here.
    func test_every_case_is_pinned() {
        func pinned(_ path: StoragePath) {
            switch path {
            case .blobData, .blobDirectory, .repositories, .repository, .manifests, .layerLink, .manifestRevisionLink,
                 .tags, .tag, .tagCurrentLink, .tagIndexLink, .uploads, .referrers, .referrersByAlgorithm, .referrerLink,
                 .upload, .uploadData, .uploadStartedAt, .uploadHashStates, .uploadHashState, .namespaceLink, .namespace,
                 .namespaces, .namespaceLinks, .listedNamespaceLink, .downloads, .downloadLock, .downloadData, .retired,
                 .retiredEntry, .blobShardLock, .quarantine, .quarantinedBlob, .collectionLock, .catalogMarker,
                 .changeCounter, .healthProbe, .blobs, .blobShard, .layers, .layerDirectory, .manifestRevisions:
                break
            }
        }
        (registry2 + berths).forEach { pinned($0.0) }
        XCTAssertEqual(Set((registry2 + berths).map { "\($0.0)".prefix { $0 != "(" } }).count, 42)
    }

    func test_berths_additions_never_land_where_registry2_reads() {
        for (path, _) in berths {
            let text = path.relative
            XCTAssertFalse(text.hasPrefix("blobs/"), text)
            if text.hasPrefix("repositories/") {
                XCTAssertTrue(text.hasPrefix("repositories/team/app/_referrers/"), text)
            }
        }
    }

    func test_the_store_puts_the_tree_under_docker_registry_v2() throws {
        let root = NSTemporaryDirectory() + "berth-paths-\(getpid())"
        defer { FileSystem.removeTree(root) }
        let store = try RegistryStore(rootDirectory: root + "//", fsync: false)
        XCTAssertEqual(store.base, root + "/docker/registry/v2")
        XCTAssertEqual(store.path(.blobData(digest)), root + "/docker/registry/v2/blobs/sha256/ab/\(hex)/data")
        XCTAssertEqual(store.path(relative: "x/y"), root + "/docker/registry/v2/x/y")
    }

    func test_repository_parts_start_with_an_underscore_and_are_the_markers() {
        XCTAssertEqual(StoragePath.repositoryMarkers, ["_manifests", "_layers", "_uploads"])
        XCTAssertTrue(StoragePath.isRepositoryPart("_referrers"))
        XCTAssertFalse(StoragePath.isRepositoryPart("app"))
        XCTAssertNil(RepositoryName("team/_app"), "no repository name component starts with _")
    }

    func test_a_download_key_comes_back_from_its_lock_file_name_only() {
        XCTAssertEqual(StoragePath.downloadKey(lockFileName: "abc.lock"), "abc")
        XCTAssertNil(StoragePath.downloadKey(lockFileName: "abc.partial"))
        let lock = StoragePath.downloadLock(key: "k1").relative
        XCTAssertEqual(StoragePath.downloadKey(lockFileName: String(lock.split(separator: "/").last!)), "k1")
    }

    func test_a_temporary_name_is_a_sibling_with_the_temporary_prefix() {
        let name = FileSystem.temporaryName(for: "/r/a/link")
        XCTAssertTrue(name.hasPrefix("/r/a/" + StoragePath.temporaryPrefix), name)
        XCTAssertEqual(StoragePath.temporaryPrefix, ".tmp-")
    }
}
