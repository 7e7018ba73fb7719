@testable import BerthStorage
import XCTest

/// The one reader of a manifest's references, as garbage collection and fsck use it (the PUT's strict
/// checks on top of it are `ManifestDescriptionTests`).
final class ManifestReferencesTests: XCTestCase {
    private func digest(_ byte: String) -> Digest { Digest("sha256:" + String(repeating: byte, count: 64))! }
    private func read(_ json: String) throws -> ManifestReferences { try ManifestReferences(Array(json.utf8)) }
    private func descriptor(_ digest: Digest, _ extra: String = "") -> String {
        "{\"mediaType\":\"application/octet-stream\",\"size\":1,\"digest\":\"\(digest)\"\(extra)}"
    }

    func test_an_image_manifest_references_its_config_then_its_layers() throws {
        let manifest = try read("""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":\(descriptor(digest("c"))),"layers":[\(descriptor(digest("1"))),\(descriptor(digest("2")))]}
            """)
        XCTAssertEqual(manifest.referenced, [digest("c"), digest("1"), digest("2")])
        XCTAssertEqual(manifest.mediaType, "application/vnd.oci.image.manifest.v1+json")
        XCTAssertEqual(manifest.schemaVersion, 2)
        XCTAssertTrue(manifest.isManifest)
        XCTAssertEqual(manifest.config?.hasSize, true)
        XCTAssertEqual(manifest.config?.hasMediaType, true)
    }

    func test_foreign_layers_are_kept_by_the_sweep_and_marked_foreign() throws {
        let manifest = try read("""
            {"schemaVersion":2,"config":\(descriptor(digest("c"))),
             "layers":[\(descriptor(digest("1"), ",\"urls\":[\"https://example.com/l\"]")),\(descriptor(digest("2"), ",\"urls\":[]"))]}
            """)
        XCTAssertEqual(manifest.referenced, [digest("c"), digest("1"), digest("2")])
        XCTAssertEqual(manifest.layers?.map(\.isForeign), [true, false])
    }

    func test_an_index_references_its_children() throws {
        let index = try read("""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
             "manifests":[\(descriptor(digest("a"))),\(descriptor(digest("b")))]}
            """)
        XCTAssertEqual(index.referenced, [digest("a"), digest("b")])
        XCTAssertEqual(index.manifests?.count, 2)
        XCTAssertNil(index.layers)
        XCTAssertTrue(index.isManifest)
    }

    func test_the_subject_is_read_but_not_kept_by_the_referrer() throws {
        let referrer = try read("""
            {"schemaVersion":2,"config":\(descriptor(digest("c"))),"layers":[],"subject":\(descriptor(digest("5")))}
            """)
        XCTAssertEqual(referrer.subject?.digest, digest("5"))
        XCTAssertEqual(referrer.referenced, [digest("c")])
    }

    func test_artifact_blobs_and_schema1_layers_are_referenced() throws {
        let artifact = try read("{\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\",\"blobs\":[\(descriptor(digest("b")))]}")
        XCTAssertEqual(artifact.referenced, [digest("b")])
        XCTAssertFalse(artifact.isManifest, "no schemaVersion")
        let schema1 = try read("{\"schemaVersion\":1,\"fsLayers\":[{\"blobSum\":\"\(digest("1"))\"},{\"blobSum\":\"nope\"},{}]}")
        XCTAssertEqual(schema1.referenced, [digest("1")])
        XCTAssertTrue(schema1.isManifest)
    }

    func test_unknown_media_types_are_read_for_what_they_name() throws {
        let unknown = try read("""
            {"schemaVersion":2,"mediaType":"application/x-made-up","config":\(descriptor(digest("c"))),"layers":[\(descriptor(digest("1")))]}
            """)
        XCTAssertEqual(unknown.mediaType, "application/x-made-up")
        XCTAssertEqual(unknown.referenced, [digest("c"), digest("1")])
        XCTAssertNil(try read("{\"mediaType\":7}").mediaType, "a mediaType that is not a string is none")
    }

    func test_a_config_blob_that_is_json_is_no_manifest() throws {
        XCTAssertFalse(try read("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{}}").isManifest)
        XCTAssertFalse(try read("{\"layers\":[]}").isManifest)
        XCTAssertTrue(try read("{\"schemaVersion\":null,\"manifests\":null}").isManifest, "present fields count, as registry:2's shape")
    }

    func test_descriptors_without_a_valid_digest_name_nothing() throws {
        let manifest = try read("""
            {"schemaVersion":2,"config":{"digest":"sha256:short"},"layers":[{"digest":7},{"size":1},\(descriptor(digest("1")))]}
            """)
        XCTAssertEqual(manifest.referenced, [digest("1")])
        XCTAssertNil(manifest.config?.digest)
        XCTAssertEqual(manifest.layers?.first?.hasSize, false)
        XCTAssertEqual(manifest.layers?.first?.hasMediaType, false)
    }

    func test_hostile_json_is_unreadable_or_names_nothing_and_never_traps() {
        let unreadable: [String] = ["", "{", "nul", "{\"a\":}", "\u{FEFF}{]", String(repeating: "[", count: 100_000),
                                    String(repeating: "{\"a\":", count: 50_000)]
        for text in unreadable {
            XCTAssertThrowsError(try read(text), String(text.prefix(20)))
        }
        XCTAssertThrowsError(try ManifestReferences([0xff, 0xfe, 0x7b, 0x7d]))
        // A fragment is no JSON document to the parser; an array is JSON, but no manifest.
        for text in ["7", "\"manifest\"", "null"] {
            XCTAssertThrowsError(try read(text), text) { error in
                XCTAssertEqual(error as? ManifestReferences.Unreadable, .notJSON, text)
            }
        }
        for text in ["[]", "[{\"schemaVersion\":2}]"] {
            XCTAssertThrowsError(try read(text), text) { error in
                XCTAssertEqual(error as? ManifestReferences.Unreadable, .notAnObject, text)
            }
        }
        // Lists that are not lists of objects, wrong types at every field: read, naming nothing.
        let wrong = try? read("""
            {"schemaVersion":"2","config":[],"layers":{"digest":"\(digest("1"))"},"manifests":[\(descriptor(digest("a"))),7],
             "blobs":"x","fsLayers":[7],"subject":"\(digest("5"))"}
            """)
        XCTAssertNotNil(wrong)
        XCTAssertEqual(wrong?.referenced, [])
        XCTAssertNil(wrong?.schemaVersion)
        XCTAssertNil(wrong?.config)
        XCTAssertNil(wrong?.layers)
        XCTAssertNil(wrong?.manifests, "one element that is not an object: no list of descriptors")
        XCTAssertNil(wrong?.subject)
        // A fractional version and a deep but legal nesting inside an unrelated field.
        let deep = String(repeating: "[", count: 400) + String(repeating: "]", count: 400)
        let odd = try? read("{\"schemaVersion\":2.5,\"x\":\(deep),\"layers\":[\(descriptor(digest("1")))]}")
        XCTAssertEqual(odd?.referenced, [digest("1")])
        XCTAssertNil(odd?.schemaVersion)
        XCTAssertThrowsError(try read("{\"schemaVersion\":1e400}"), "a number past Double's range")
    }

    func test_the_store_tells_a_stored_manifest_from_a_json_config() throws {
        let root = NSTemporaryDirectory() + "berth-references-\(getpid())"
        defer { FileSystem.removeTree(root) }
        let store = try RegistryStore(rootDirectory: root, fsync: false)
        let config = Array("{\"architecture\":\"amd64\"}".utf8)
        let manifest = Array("{\"schemaVersion\":2,\"config\":\(descriptor(Digest.sha256(of: config))),\"layers\":[]}".utf8)
        try store.storeBlob(config, digest: Digest.sha256(of: config))
        try store.storeBlob(manifest, digest: Digest.sha256(of: manifest))
        XCTAssertTrue(store.isStoredManifest(Digest.sha256(of: manifest)))
        XCTAssertFalse(store.isStoredManifest(Digest.sha256(of: config)))
        XCTAssertFalse(store.isStoredManifest(digest("9")), "not stored")
        XCTAssertEqual(store.manifestReferences(Digest.sha256(of: manifest))?.referenced, [Digest.sha256(of: config)])
    }
}
