import CBerthShims
import CHTTPParser
import CLibUV

/// The response side of `BenchConnection`: http-parser's callbacks and what they keep of a response.
extension BenchConnection {

    /// Our own callbacks rather than BerthHTTP's `httpParserSettings`: that one reaches its owner through a
    /// protocol existential, a retain and release per callback (6 % of the harness's CPU in `perf`), and
    /// calls the header callbacks that only a push's POST needs. Header names and values are still parsed.
    static let settings: UnsafeMutablePointer<http_parser_settings> = {
        var settings = http_parser_settings()
        settings.on_headers_complete = { connection($0) { $0.headersComplete() } }
        settings.on_body = { parser, at, count in connection(parser) { $0.body(UnsafeRawBufferPointer(start: at, count: count)) } }
        settings.on_message_complete = { connection($0) { $0.messageComplete() } }
        return pinned(settings)
    }()

    static let settingsWithHeaders: UnsafeMutablePointer<http_parser_settings> = {
        var settings = BenchConnection.settings.pointee
        settings.on_header_field = { parser, at, count in connection(parser) { $0.headerField(UnsafeRawBufferPointer(start: at, count: count)) } }
        settings.on_header_value = { parser, at, count in connection(parser) { $0.headerValue(UnsafeRawBufferPointer(start: at, count: count)) } }
        return pinned(settings)
    }()

    /// Callbacks live for the process: http-parser reads them on every call.
    private static func pinned(_ settings: http_parser_settings) -> UnsafeMutablePointer<http_parser_settings> {
        let pointer = UnsafeMutablePointer<http_parser_settings>.allocate(capacity: 1)
        pointer.initialize(to: settings)
        return pointer
    }

    @inline(__always)
    private static func connection(_ parser: UnsafeMutablePointer<http_parser>?, _ call: (BenchConnection) -> Int32) -> Int32 {
        Unmanaged<BenchConnection>.fromOpaque(parser!.pointee.data)._withUnsafeGuaranteedRef(call)
    }

    func headerField(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard parsesHeaders else { return 0 }
        if lastWasValue {
            fieldName.removeAll(keepingCapacity: true)
            lastWasValue = false
        }
        fieldName.append(contentsOf: bytes)
        return 0
    }

    func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard parsesHeaders else { return 0 }
        if !lastWasValue {
            lastWasValue = true
            inLocation = request.wantsLocation && ASCII.equalsIgnoringCase(fieldName, "location")
            inChallenge = parser.pointee.status_code == 401 && ASCII.equalsIgnoringCase(fieldName, "www-authenticate")
            // Several challenge fields read as one list (RFC 9110 §5.3).
            if inChallenge, !challengeValue.isEmpty { challengeValue += [UInt8(ascii: ","), 0x20] }
        }
        if inLocation { fieldValue.append(contentsOf: bytes) }
        if inChallenge { challengeValue.append(contentsOf: bytes) }
        return 0
    }

    func headersComplete() -> Int32 {
        response.status = Int(parser.pointee.status_code)
        if request.wantsLocation, !fieldValue.isEmpty { response.location = String(decoding: fieldValue, as: UTF8.self) }
        if response.status == 401, !challengeValue.isEmpty { response.challenge = String(decoding: challengeValue, as: UTF8.self) }
        if request.timesFirstByte { response.firstByteAt = uv_hrtime() }
        return request.isHead ? 1 : 0
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        if request.timesFirstByte, response.bodyBytes == 0, bytes.count > 0 { response.firstByteAt = uv_hrtime() }
        response.bodyBytes += bytes.count
        if request.keepsBody { response.kept.append(contentsOf: bytes) }
        if request.expectedDigest != nil { berth_sha256_update(&hasher, bytes.baseAddress, bytes.count) }
        return 0
    }

    func messageComplete() -> Int32 {
        if response.status < 200 { return 0 }  // an interim answer; the real one follows
        if let expected = request.expectedDigest { response.digestMatched = SHA256Value.finish(&hasher) == expected }
        keepAlive = http_should_keep_alive(parser) != 0
        completed = true
        http_parser_pause(parser, 1)
        return 0
    }
}

enum ASCII {
    static func equalsIgnoringCase(_ bytes: [UInt8], _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<bytes.count where bytes[index] | 0x20 != expected[index] { return false }
        return true
    }
}
