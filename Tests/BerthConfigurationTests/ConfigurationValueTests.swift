@testable import BerthConfiguration
import XCTest

/// Durations and sizes in registry:2's forms, bounded so that what loads fits the loop's timers and Int64
/// offsets; a file Yams would trap on is refused.
final class ConfigurationValueTests: XCTestCase {
    func test_durations_are_go_style_or_seconds() throws {
        for (text, seconds) in [("90s", 90.0), ("10m", 600), ("1h30m", 5400), ("500ms", 0.5), ("45", 45), ("1.5h", 5400), ("0", 0)] {
            XCTAssertEqual(try load(yaml("gc.delay", text)).gcDelay, seconds, text)
        }
    }

    func test_a_huge_negative_or_infinite_duration_is_refused_with_its_key() {
        for text in ["1e30", ".inf", "-5", "99999999999999999999h", "3651d", "soon", "''"] {
            XCTAssertTrue(refusal(yaml("gc.interval", text)).hasPrefix("test.yml: gc.interval: "), text)
        }
        XCTAssertEqual(refusal(yaml("gc.interval", "1e30")), "test.yml: gc.interval: 1e+30 is not a duration from 0 to ten years")
        XCTAssertNoThrow(try load(yaml("gc.interval", "87600h")), "ten years is the longest")
    }

    func test_the_progress_window_is_from_a_millisecond_to_a_day() throws {
        XCTAssertEqual(try load(yaml("http.progresswindow", "1ms")).progressWindow, 0.001)
        XCTAssertEqual(try load(yaml("http.progresswindow", "24h")).progressWindow, 86_400)
        XCTAssertEqual(refusal(yaml("http.progresswindow", "25h")), "test.yml: http.progresswindow: 25h is not from 1ms to 24h")
        XCTAssertEqual(refusal(yaml("http.progresswindow", "0")), "test.yml: http.progresswindow: 0 is not from 1ms to 24h")
    }

    func test_sizes_take_decimal_and_binary_units_up_to_an_exbibyte() throws {
        for (text, bytes) in [("500MB", Int64(500_000_000)), ("20GiB", 20 << 30), ("1.5T", 1_500_000_000_000), ("4096", 4096),
                              ("2 KiB", 2048), ("1EiB", nil)] as [(String, Int64?)] {
            guard let bytes else {
                XCTAssertTrue(refusal(yaml("proxy.cache.maxsize", text)).hasPrefix("test.yml: proxy.cache.maxsize: expected a size"), text)
                continue
            }
            XCTAssertEqual(try load(yaml("proxy.cache.maxsize", text)).proxyCacheMaxSize, bytes, text)
        }
        XCTAssertEqual(try load(yaml("proxy.cache.maxsize", "1152921504606846976")).proxyCacheMaxSize, 1 << 60, "one exbibyte is the largest")
        for text in ["1e30TB", "99999999999999999999", "0", "-1", "lots", "1.5XB"] {
            XCTAssertEqual(refusal(yaml("proxy.cache.maxsize", text)),
                           "test.yml: proxy.cache.maxsize: expected a size such as 500MB or 20GiB, at most 1EiB", text)
        }
    }

    func test_the_downloads_a_worker_leads_at_once_are_from_1_to_256() throws {
        XCTAssertEqual(try load("version: 0.1").proxyMaxDownloads, 16)
        XCTAssertEqual(try load(yaml("proxy.maxdownloads", "1")).registryOptions.maxDownloadsPerWorker, 1)
        XCTAssertEqual(try load(yaml("proxy.maxdownloads", "256")).proxyMaxDownloads, 256)
        for text in ["0", "257", "-1", "99999999999999999999", "many"] {
            XCTAssertEqual(refusal(yaml("proxy.maxdownloads", text)),
                           "test.yml: proxy.maxdownloads: expected a whole number from 1 to 256", text)
        }
    }

    func test_counts_are_bounded() {
        XCTAssertEqual(refusal("workers: 0"), "test.yml: workers: expected a whole number from 1 to 256")
        XCTAssertEqual(refusal("workers: 257"), "test.yml: workers: expected a whole number from 1 to 256")
        XCTAssertEqual(refusal(yaml("http.maxconnsperclient", "-1")),
                       "test.yml: http.maxconnsperclient: expected a whole number from 0 (no limit) to 1000000")
        XCTAssertEqual(refusal(yaml("http.addr", "[1, 2]")), "test.yml: http.addr: expected a string")
        XCTAssertEqual(refusal(yaml("http.addr", "nowhere")), "test.yml: http.addr: nowhere is not host:port")
        XCTAssertEqual(refusal(yaml("http.addr", "host:70000")), "test.yml: http.addr: host:70000 is not host:port")
    }

    func test_a_file_that_is_not_a_mapping_of_plain_keys_is_refused_not_a_trap() {
        // Found by the configuration fuzz target: Yams traps on a complex key (`? [a, b]`).
        XCTAssertEqual(refusal("http:\n  addr: 127.0.0.1:5000\n? [a, b]\n: c\n"),
                       "test.yml: not valid here: every key of a mapping must be a plain string")
        XCTAssertEqual(refusal("http:\n  ? {a: 1}\n  : c\n"), "test.yml: not valid here: every key of a mapping must be a plain string")
        XCTAssertEqual(refusal("- a\n- b\n"), "test.yml: the top level must be a mapping of keys")
        XCTAssertTrue(refusal("http: [unclosed\n").hasPrefix("test.yml: not valid YAML: "))
        XCTAssertNoThrow(try load(""), "an empty file is the defaults")
    }

    func test_a_missing_file_is_named() {
        XCTAssertThrowsError(try Configuration.load(file: "/nonexistent/berth.yml", environment: [:])) { error in
            XCTAssertEqual("\(error)", "/nonexistent/berth.yml: cannot read the configuration file")
        }
    }
}
