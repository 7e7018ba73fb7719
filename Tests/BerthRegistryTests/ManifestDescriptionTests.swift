@testable import BerthRegistry
import BerthStorage
import XCTest

/// A manifest PUT's strict reading, on top of the reader garbage collection shares (`ManifestReferences`).
final class ManifestDescriptionTests: XCTestCase {
    private func digest(_ byte: String) -> Digest { Digest("sha256:" + String(repeating: byte, count: 64))! }
    private func descriptor(_ digest: Digest, _ extra: String = "") -> String {
        "{\"mediaType\":\"application/octet-stream\",\"size\":1,\"digest\":\"\(digest)\"\(extra)}"
    }
    private func describe(_ json: String, contentType: String? = nil) throws -> ManifestDescription {
        try ManifestDescription(Array(json.utf8), contentType: contentType)
    }
    private func refusal(_ json: String, contentType: String? = nil) -> String? {
        do {
            _ = try describe(json, contentType: contentType)
            return nil
        } catch let error as RegistryError {
            XCTAssertEqual(error.code, .manifestInvalid)
            XCTAssertEqual(error.status, 400)
            return error.detail
        } catch {
            return "\(error)"
        }
    }

    func test_an_image_needs_its_config_and_local_layers_linked() throws {
        let image = try describe("""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":\(descriptor(digest("c"))),
             "layers":[\(descriptor(digest("1"))),\(descriptor(digest("2"), ",\"urls\":[\"https://example.com\"]"))]}
            """)
        XCTAssertEqual(image.mediaType, ManifestMediaType.ociManifest)
        XCTAssertEqual(image.blobs, [digest("c"), digest("1")], "a foreign layer need not be here")
        XCTAssertEqual(image.manifests, [])
        XCTAssertNil(image.subject)
    }

    func test_an_index_needs_its_children_and_its_type_comes_from_its_shape() throws {
        let index = try describe("{\"schemaVersion\":2,\"manifests\":[\(descriptor(digest("a")))]}")
        XCTAssertEqual(index.mediaType, ManifestMediaType.ociIndex)
        XCTAssertEqual(index.manifests, [digest("a")])
        XCTAssertEqual(index.blobs, [])
        XCTAssertEqual(refusal("{\"schemaVersion\":2,\"mediaType\":\"\(ManifestMediaType.dockerList)\",\"manifests\":{}}"),
                       "an index needs a manifests array")
    }

    func test_a_subject_must_be_a_whole_descriptor() throws {
        let referrer = try describe("{\"schemaVersion\":2,\"config\":\(descriptor(digest("c"))),\"layers\":[],\"subject\":\(descriptor(digest("5")))}")
        XCTAssertEqual(referrer.subject, digest("5"))
        XCTAssertEqual(refusal("{\"schemaVersion\":2,\"config\":\(descriptor(digest("c"))),\"layers\":[],\"subject\":{\"digest\":\"\(digest("5"))\"}}"),
                       "subject: descriptor \(digest("5")) needs mediaType and size")
    }

    func test_unknown_media_types_and_schema1_are_refused() {
        XCTAssertEqual(refusal("{\"schemaVersion\":2,\"mediaType\":\"application/x-made-up\",\"layers\":[]}"),
                       "unsupported manifest media type application/x-made-up")
        XCTAssertEqual(refusal("{\"schemaVersion\":1,\"fsLayers\":[]}"), "schemaVersion must be 2 (schema1 manifests are not supported)")
        XCTAssertEqual(refusal("{\"schemaVersion\":2,\"mediaType\":\"\(ManifestMediaType.ociManifest)\",\"layers\":[]}",
                               contentType: ManifestMediaType.dockerSchema2 + "; charset=utf-8"),
                       "mediaType \(ManifestMediaType.ociManifest) does not match Content-Type \(ManifestMediaType.dockerSchema2)")
    }

    func test_hostile_json_is_manifest_invalid_with_what_is_wrong() {
        XCTAssertEqual(refusal("{"), "manifest is not valid JSON")
        XCTAssertEqual(refusal(String(repeating: "[", count: 100_000)), "manifest is not valid JSON")
        XCTAssertEqual(refusal("[]"), "manifest is not a JSON object")
        XCTAssertEqual(refusal("{\"schemaVersion\":2,\"config\":\(descriptor(digest("c"))),\"layers\":[7]}"), "an image manifest needs a layers array")
        XCTAssertEqual(refusal("{\"schemaVersion\":2,\"layers\":[]}"), "an image manifest needs a config descriptor")
        XCTAssertEqual(refusal("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:00\"},\"layers\":[]}"), "config: descriptor without a valid digest")
        XCTAssertEqual(refusal("{\"schemaVersion\":\"2\",\"config\":\(descriptor(digest("c"))),\"layers\":[]}"),
                       "schemaVersion must be 2 (schema1 manifests are not supported)")
    }
}
