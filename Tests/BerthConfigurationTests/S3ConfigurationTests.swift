@testable import BerthConfiguration
import XCTest

/// storage.s3 as `berth storage s3-check` reads it, with registry:2's key names; `serve` still refuses it.
final class S3ConfigurationTests: XCTestCase {
    func test_registry2_keys_are_read() throws {
        let settings = try Configuration.s3Storage(text: """
            version: 0.1
            storage:
              s3:
                regionendpoint: http://127.0.0.1:9000
                region: us-east-1
                bucket: images
                accesskey: AKID
                secretkey: s3cr3t
                rootdirectory: /registry/
                secure: false
                v4auth: true
                chunksize: 5242880
            """, named: "c.yml")
        XCTAssertEqual(settings.client.endpoint.description, "http://127.0.0.1:9000/")
        XCTAssertEqual(settings.client.region, "us-east-1")
        XCTAssertEqual(settings.client.bucket, "images")
        XCTAssertEqual(settings.client.credentials.accessKey, "AKID")
        XCTAssertEqual(settings.rootDirectory, "registry")
        XCTAssertEqual(settings.key("docker/registry/v2"), "registry/docker/registry/v2")
        XCTAssertEqual(settings.chunkSize, 5 << 20)
    }

    func test_defaults_follow_registry2() throws {
        let settings = try Configuration.s3Storage(
            text: "storage: {s3: {region: eu-west-1, bucket: b, accesskey: a, secretkey: s}}", named: "c.yml")
        XCTAssertEqual(settings.client.endpoint.description, "https://s3.eu-west-1.amazonaws.com/")
        XCTAssertEqual(settings.chunkSize, 10 << 20)
        XCTAssertEqual(settings.rootDirectory, "")
        let plain = try Configuration.s3Storage(
            text: "storage: {s3: {region: r, bucket: b, accesskey: a, secretkey: s, secure: false, regionendpoint: 'minio:9000'}}",
            named: "c.yml")
        XCTAssertEqual(plain.client.endpoint.description, "http://minio:9000/")
    }

    func test_unusable_values_are_refused_without_the_secret() {
        for (yaml, expected) in [
            ("storage: {s3: {region: r, bucket: b, accesskey: a}}", "storage.s3.secretkey is not set"),
            ("storage: {s3: {bucket: b, accesskey: a, secretkey: TOPSECRET}}", "storage.s3.region is not set"),
            ("storage: {s3: {region: r, bucket: b, accesskey: a, secretkey: TOPSECRET, v4auth: false}}", "Signature V4 only"),
            ("storage: {s3: {region: r, bucket: b, accesskey: a, secretkey: TOPSECRET, chunksize: 1MiB}}", "from 5 MiB to 5 GiB"),
            ("storage: {s3: {region: r, bucket: b, accesskey: a, secretkey: TOPSECRET, regionendpoint: 'http://u:p@h'}}", "regionendpoint"),
            ("storage: {filesystem: {rootdirectory: /x}}", "no storage.s3 section"),
        ] {
            XCTAssertThrowsError(try Configuration.s3Storage(text: yaml, named: "c.yml"), yaml) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
                XCTAssertFalse("\(error)".contains("TOPSECRET"), "\(error)")
            }
        }
    }

    func test_serve_still_refuses_storage_s3_and_points_at_s3_check() {
        let text = "storage: {s3: {region: r, bucket: b, accesskey: a, secretkey: TOPSECRET}}"
        XCTAssertThrowsError(try Configuration.load(text: text, named: "c.yml", environment: [:])) { error in
            XCTAssertTrue("\(error)".hasPrefix("c.yml: storage.s3: Berth has no S3 storage driver yet"), "\(error)")
            XCTAssertTrue("\(error)".contains("storage.filesystem") && "\(error)".contains("berth storage s3-check"), "\(error)")
            XCTAssertFalse("\(error)".contains("TOPSECRET"), "\(error)")
        }
    }
}
