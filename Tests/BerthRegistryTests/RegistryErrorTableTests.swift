@testable import BerthRegistry
import XCTest

/// The error table is what clients see: each entry's code, message and status, pinned to the answers Berth
/// gave before the table owned them (distribution's `errcode/register.go` for the spec's codes).
final class RegistryErrorTableTests: XCTestCase {
    private typealias Entry = (code: RegistryError.Code, value: String, message: String?, status: Int)

    private let table: [Entry] = [
        (.blobUnknown, "BLOB_UNKNOWN", "blob unknown to registry", 404),
        (.blobUploadInvalid, "BLOB_UPLOAD_INVALID", "blob upload invalid", 400),
        (.blobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404),
        (.digestInvalid, "DIGEST_INVALID", "provided digest did not match uploaded content", 400),
        (.manifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry", 400),
        (.manifestInvalid, "MANIFEST_INVALID", "manifest invalid", 400),
        (.manifestUnknown, "MANIFEST_UNKNOWN", "manifest unknown to registry", 404),
        (.nameInvalid, "NAME_INVALID", "invalid repository name", 400),
        (.nameUnknown, "NAME_UNKNOWN", "repository name not known to registry", 404),
        (.sizeInvalid, "SIZE_INVALID", "provided length did not match content length", 400),
        (.rangeInvalid, "RANGE_INVALID", "invalid content range", 416),
        (.unauthorized, "UNAUTHORIZED", "authentication required", 401),
        (.denied, "DENIED", "requested access to the resource is denied", 403),
        (.unsupported, "UNSUPPORTED", "the operation is unsupported", 405),
        (.tooManyRequests, "TOOMANYREQUESTS", "too many requests", 429),
        (.unavailable, "UNAVAILABLE", "service unavailable", 503),
        (.unknown, "UNKNOWN", "unknown error", 500),
        // Berth's answers that were overrides at their call sites before.
        (.blobUploadInUse, "BLOB_UPLOAD_INVALID", "blob upload invalid", 409),
        (.manifestTooLarge, "MANIFEST_INVALID", "manifest invalid", 413),
        (.mirrorTakesNoPushes, "UNSUPPORTED", "this registry is a pull-through mirror and takes no pushes", 405),
        (.namespaceInvalid, "NAME_INVALID", "invalid namespace", 400),
        (.paginationInvalid, "UNSUPPORTED", "invalid pagination", 400),
        (.routeUnknown, "UNSUPPORTED", "not found", 404),
        (.storageFull, "UNAVAILABLE", "insufficient storage", 507),
        (.upstreamUnreachable, "UNAVAILABLE", "upstream registry unreachable", 503),
        (.upstreamFailed, "UNKNOWN", "upstream registry failed", 502),
        (.upstreamBlobInvalid, "UNKNOWN", "unknown error", 502),
        (.loginThrottled, "TOOMANYREQUESTS", "too many failed logins", 429),
        (.authenticationUnavailable, "UNAVAILABLE", "authentication unavailable", 503),
        (.requestInvalid, "UNSUPPORTED", nil, 400),
        (.requestTimeout, "UNSUPPORTED", nil, 408),
        (.requestTooLarge, "SIZE_INVALID", nil, 413),
        (.requestTargetTooLong, "UNSUPPORTED", nil, 414),
        (.rangeNotSatisfiable, "RANGE_INVALID", nil, 416),
        (.requestHeadersTooLarge, "UNSUPPORTED", nil, 431),
    ]

    private func body(_ error: RegistryError) -> String {
        guard case .bytes(let bytes) = error.response().body else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    func test_every_entry_has_its_code_message_and_status() {
        XCTAssertEqual(table.count, RegistryError.Code.allCases.count, "an entry without a pinned answer")
        for entry in table {
            XCTAssertEqual(entry.code.descriptor, RegistryError.Descriptor(value: entry.value, message: entry.message, status: entry.status),
                           "\(entry.code)")
        }
    }

    func test_every_entry_answers_one_of_the_spec_codes() {
        let spec = Set(table.prefix(17).map(\.value))
        XCTAssertEqual(spec.count, 17)
        for code in RegistryError.Code.allCases {
            XCTAssertTrue(spec.contains(code.value), "\(code): \(code.value) is not a distribution spec code")
        }
    }

    func test_an_upstream_failure_is_a_502_unknown_with_its_detail() {
        let error = RegistryError(.upstreamFailed, "the upstream docker.io answered 500 for blob x")
        XCTAssertEqual(error.status, 502)
        XCTAssertEqual(error.response().status, 502)
        XCTAssertEqual(body(error), "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"upstream registry failed\",\"detail\":\"the upstream docker.io answered 500 for blob x\"}]}\n")
    }

    func test_an_unreachable_upstream_is_a_503_unavailable() {
        let error = RegistryError(.upstreamUnreachable, "fetching x: the upstream docker.io could not be reached: connection refused")
        XCTAssertEqual(error.response().status, 503)
        XCTAssertEqual(body(error), "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"upstream registry unreachable\",\"detail\":\"fetching x: the upstream docker.io could not be reached: connection refused\"}]}\n")
    }

    func test_a_refusal_of_the_http_layer_keeps_its_status_and_its_text_as_the_message() {
        let answered: [(Int, String)] = [(400, "UNSUPPORTED"), (408, "UNSUPPORTED"), (413, "SIZE_INVALID"), (414, "UNSUPPORTED"),
                                         (416, "RANGE_INVALID"), (431, "UNSUPPORTED")]
        for (status, value) in answered {
            let error = RegistryError.refusal(status: status, "text \(status)")
            XCTAssertEqual(error.status, status)
            XCTAssertEqual(error.code.value, value)
            XCTAssertEqual(body(error), "{\"errors\":[{\"code\":\"\(value)\",\"message\":\"text \(status)\",\"detail\":\"text \(status)\"}]}\n")
        }
        XCTAssertEqual(RegistryError.refusal(status: 499, "odd").status, 400, "a status without an entry")
    }

    func test_the_body_escapes_the_detail_and_a_missing_detail_is_null() {
        XCTAssertEqual(body(RegistryError(.blobUnknown)), "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown to registry\",\"detail\":null}]}\n")
        XCTAssertTrue(body(RegistryError(.nameInvalid, "a \"b\"\n")).contains("\"detail\":\"a \\\"b\\\"\\n\""), body(RegistryError(.nameInvalid, "a \"b\"\n")))
    }
}
