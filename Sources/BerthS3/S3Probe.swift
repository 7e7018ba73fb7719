import CBerthShims
import Glibc

/// `berth storage s3-check`: every operation the S3 driver will use, once, on probe objects under
/// `<rootdirectory>/_berth_probe/<random>/`: put, head, get, range-get, multipart (and an aborted one),
/// copy, list with continuation, delete. Each step reports as it ends; the first failure stops the probe.
/// Loop-confined, like the client.
public final class S3Probe {
    public struct Step {
        public var name: String
        public var detail: String
        public var milliseconds: Double
        /// nil: the step passed.
        public var failure: String?
    }

    private let client: S3Client
    private let prefix: String
    private let chunkSize: Int
    private let multipartSize: Int
    private let report: (Step) -> Void
    private var done: ((Bool) -> Void)?
    private var started = 0.0
    private let small: [UInt8]

    /// `root`: the configured root directory ("" for the bucket's top); `multipartSize`: bytes of the
    /// multipart probe, sent in parts of `chunkSize`.
    public init(client: S3Client, root: String, chunkSize: Int, multipartSize: Int, report: @escaping (Step) -> Void) {
        self.client = client
        var random = SystemRandomNumberGenerator()
        let id = String(random.next() as UInt64, radix: 16)
        prefix = (root.isEmpty ? "" : root + "/") + "_berth_probe/" + id + "/"
        self.chunkSize = chunkSize
        self.multipartSize = max(multipartSize, 1)
        self.report = report
        small = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    public var probePrefix: String { prefix }

    /// A space, a `+`, `=`, `&` and a non-ASCII letter: the key's URI encoding must agree between the request
    /// path, `x-amz-copy-source` and the signature, as AWS's rules have it.
    static let copyName = "copy of object+=&\u{FC}"

    public func run(completion: @escaping (Bool) -> Void) {
        done = completion
        put()
    }

    // MARK: Steps, in order

    private func put() {
        begin()
        client.putObject(prefix + "object", body: small) { [self] result in
            step("put", "\(prefix)object (\(small.count) bytes)", result) { _ in head() }
        }
    }

    private func head() {
        begin()
        client.headObject(prefix + "object") { [self] result in
            step("head", "\(prefix)object", result.flatMap { head in
                head.contentLength == Int64(small.count) ? .success(head)
                    : .failure(.malformedAnswer("Content-Length \(head.contentLength.map(String.init) ?? "none"), not \(small.count)"))
            }) { _ in get() }
        }
    }

    private func get() {
        begin()
        var received: [UInt8] = []
        client.getObject(prefix + "object", sink: { received.append(contentsOf: $0) }) { [self] result in
            step("get", "\(received.count) bytes, as put", result.flatMap { head in
                received == small ? .success(head) : .failure(.malformedAnswer("the bytes read back differ from the bytes put"))
            }) { _ in rangeGet() }
        }
    }

    private func rangeGet() {
        begin()
        var received: [UInt8] = []
        client.getObject(prefix + "object", range: 100...1123, sink: { received.append(contentsOf: $0) }) { [self] result in
            step("range-get", "bytes 100-1123", result.flatMap { head in
                head.status == 206 && received == Array(small[100...1123]) ? .success(head)
                    : .failure(.malformedAnswer("status \(head.status) with \(received.count) bytes, not 206 with bytes 100-1123"))
            }) { _ in multipart() }
        }
    }

    private func multipart() {
        begin()
        let key = prefix + "multipart"
        var sent = berth_sha256_state()
        berth_sha256_init(&sent)
        var parts: [S3Client.CompletedPart] = []
        let count = (multipartSize + chunkSize - 1) / chunkSize
        client.createMultipartUpload(key) { [self] result in
            guard case .success(let id) = result else { return step("multipart", key, result) { _ in } }
            // One part in memory at a time: each is made when the previous one is stored.
            func upload(_ number: Int) {
                guard number <= count else { return complete(id) }
                let size = min(chunkSize, multipartSize - (number - 1) * chunkSize)
                var body = [UInt8](repeating: 0, count: size)
                // splitmix64 from one system seed: the system generator is a syscall per word.
                var system = SystemRandomNumberGenerator()
                var state = system.next() as UInt64
                body.withUnsafeMutableBytes { bytes in
                    for index in stride(from: 0, to: size, by: 8) {
                        state &+= 0x9E37_79B9_7F4A_7C15
                        var word = state
                        word = (word ^ (word >> 30)) &* 0xBF58_476D_1CE4_E5B9
                        word = (word ^ (word >> 27)) &* 0x94D0_49BB_1331_11EB
                        word ^= word >> 31
                        withUnsafeBytes(of: &word) { word in
                            for offset in 0..<min(8, size - index) { bytes[index + offset] = word[offset] }
                        }
                    }
                    berth_sha256_update(&sent, bytes.baseAddress, size)
                }
                client.uploadPart(key, uploadID: id, number: number, body: body) { [self] result in
                    switch result {
                    case .success(let part):
                        parts.append(part)
                        upload(number + 1)
                    case .failure:
                        step("multipart", "part \(number) of \(count)", result) { _ in }
                    }
                }
            }
            func complete(_ id: String) {
                client.completeMultipartUpload(key, uploadID: id, parts: parts) { [self] result in
                    step("multipart", "\(key) (\(multipartSize) bytes in \(count) parts of \(chunkSize))", result) { _ in
                        multipartGet(key, expected: Self.digest(&sent))
                    }
                }
            }
            upload(1)
        }
    }

    private func multipartGet(_ key: String, expected: [UInt8]) {
        begin()
        var hash = berth_sha256_state()
        berth_sha256_init(&hash)
        var count = 0
        client.getObject(key, sink: { bytes in
            count += bytes.count
            berth_sha256_update(&hash, bytes.baseAddress, bytes.count)
        }) { [self] result in
            step("multipart-get", "\(count) bytes, SHA-256 as uploaded", result.flatMap { head in
                Self.digest(&hash) == expected ? .success(head) : .failure(.malformedAnswer("the bytes read back differ from the parts uploaded"))
            }) { _ in abort() }
        }
    }

    private func abort() {
        begin()
        let key = prefix + "aborted"
        client.createMultipartUpload(key) { [self] result in
            guard case .success(let id) = result else { return step("abort", key, result) { _ in } }
            client.uploadPart(key, uploadID: id, number: 1, body: small) { [self] result in
                guard case .success = result else { return step("abort", key, result) { _ in } }
                client.abortMultipartUpload(key, uploadID: id) { [self] result in
                    step("abort", "an upload of \(key) aborted", result) { _ in copy() }
                }
            }
        }
    }

    private func copy() {
        begin()
        client.copyObject(from: prefix + "object", to: prefix + Self.copyName) { [self] result in
            step("copy", "\(prefix)object to \(prefix)\(Self.copyName)", result) { _ in list() }
        }
    }

    private func list() {
        begin()
        var keys: [String] = []
        var pages = 0
        func page(_ token: String?) {
            client.listObjectsV2(prefix: prefix, delimiter: "/", continuationToken: token, maxKeys: 1) { [self] result in
                switch result {
                case .success(let listed):
                    pages += 1
                    keys += listed.objects.map(\.key)
                    if let next = listed.nextContinuationToken, pages < 10 { return page(next) }
                    let expected = [Self.copyName, "multipart", "object"].map { prefix + $0 }
                    step("list", "\(keys.count) keys in \(pages) pages of 1", keys == expected ? result
                         : .failure(.malformedAnswer("listed \(keys), not \(expected)"))) { _ in delete() }
                case .failure:
                    step("list", prefix, result) { _ in }
                }
            }
        }
        page(nil)
    }

    private func delete() {
        begin()
        var remaining = ["object", Self.copyName, "multipart"].map { prefix + $0 }
        func next() {
            guard let key = remaining.popLast() else { return verifyDeleted() }
            client.deleteObject(key) { [self] result in
                guard case .success = result else { return step("delete", key, result) { _ in } }
                next()
            }
        }
        func verifyDeleted() {
            client.headObject(prefix + "object") { [self] result in
                switch result {
                case .failure(.noSuchKey):
                    step("delete", "3 objects deleted, HEAD then answers NoSuchKey", Result<Void, S3Error>.success(())) { _ in finish(true) }
                case .failure:
                    step("delete", "HEAD after delete", result) { _ in }
                case .success:
                    step("delete", "HEAD after delete", Result<Void, S3Error>.failure(.malformedAnswer("the object is still there"))) { _ in }
                }
            }
        }
        next()
    }

    // MARK: Reporting

    private func begin() {
        started = Self.monotonicMilliseconds()
    }

    private func step<Value>(_ name: String, _ detail: String, _ result: Result<Value, S3Error>, then next: (Value) -> Void) {
        let elapsed = Self.monotonicMilliseconds() - started
        switch result {
        case .success(let value):
            report(Step(name: name, detail: detail, milliseconds: elapsed, failure: nil))
            next(value)
        case .failure(let error):
            report(Step(name: name, detail: detail, milliseconds: elapsed, failure: error.description))
            finish(false)
        }
    }

    private func finish(_ passed: Bool) {
        let done = self.done
        self.done = nil
        done?(passed)
    }

    private static func digest(_ state: inout berth_sha256_state) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        berth_sha256_peek(&state, &out)
        return out
    }

    static func monotonicMilliseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) * 1000 + Double(now.tv_nsec) / 1_000_000
    }
}
