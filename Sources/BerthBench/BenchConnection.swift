import BerthHTTP
import CBerthShims
import CHTTPParser
import CLibUV
import Glibc

/// One kept-alive HTTP/1.1 connection of the harness: writes a prepared request, parses the answer with
/// http-parser, tells its run. Loop-confined; its run keeps it alive for the whole run, so libuv's `data`
/// pointers are unretained. Nothing here allocates per request: the handles, the parser and the head buffer
/// are made once, and the answer is reduced to a status, a byte count and, when asked, a hash and a Location.
final class BenchConnection {
    unowned let run: LoadRun
    var machine = BenchConnectionStateMachine()
    /// The operation this connection is in, for the run: its index, step and start (uv_hrtime).
    var operation = -1
    var step = 0
    var operationStart: UInt64 = 0
    /// The operation's next step, chosen by the run from the last answer.
    var pending: BenchRequest?
    /// When the connect or the request in flight began, on the loop's millisecond clock (no clock read).
    private(set) var waitingSince: UInt64 = 0

    private let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    private let connectRequest = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    private let writeRequest = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private var headBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    private let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)

    private var request = BenchRequest(head: [])
    private var response = BenchResponse()
    private var hasher = berth_sha256_state()
    private var completed = false
    private var keepAlive = false
    /// libuv owns `writeRequest` until its callback; an answer that comes first waits for it.
    private var writing = false
    private var answeredWhileWriting = false
    /// The Location header, gathered over split callbacks when the request wants it.
    private var fieldName: [UInt8] = []
    private var fieldValue: [UInt8] = []
    private var lastWasValue = false
    private var inLocation = false

    init(run: LoadRun) {
        self.run = run
        fieldName.reserveCapacity(64)
        fieldValue.reserveCapacity(512)
    }

    deinit {
        tcp.deallocate()
        connectRequest.deallocate()
        writeRequest.deallocate()
        headBuffer.deallocate()
        parser.deallocate()
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self) }
    private var handle: UnsafeMutablePointer<uv_handle_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self) }

    func connect() {
        waitingSince = uv_now(run.loop.raw)
        uv_tcp_init(run.loop.raw, tcp)
        tcp.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        connectRequest.pointee.data = tcp.pointee.data
        let status = withUnsafePointer(to: &run.address) { address in
            address.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_connect(connectRequest, tcp, $0) { request, status in
                let connection = Unmanaged<BenchConnection>.fromOpaque(request!.pointee.data).takeUnretainedValue()
                connection.didConnect(status)
            } }
        }
        if status != 0 { didConnect(status) }
    }

    private func didConnect(_ status: Int32) {
        if status == 0 {
            uv_tcp_nodelay(tcp, 1)
            StreamTransport(tcp).startReading { stream, count, buffer in
                Unmanaged<BenchConnection>.fromOpaque(stream!.pointee.data)._withUnsafeGuaranteedRef {
                    $0.didRead(count, UnsafeRawPointer(buffer!.pointee.base))
                }
            }
        } else {
            run.connectFailed(String(cString: uv_strerror(status)))
        }
        perform(machine.connected(ok: status == 0))
    }

    private func perform(_ action: BenchConnectionStateMachine.Action) {
        switch action {
        case .none: break
        case .issueNext: issue()
        case .deliverResponse(let reconnect):
            run.answered(self, response, expected: request.expected)
            if reconnect { closeSocket() } else if writing { answeredWhileWriting = true } else { issue(at: run.lastAnswer) }
        case .failRequest:
            run.requestFailed(self, timedOut: false)
            closeSocket()
        case .reconnect, .giveUp, .close: closeSocket()
        }
    }

    /// `now`: the clock just read for the answer before, so back-to-back operations read it once each.
    private func issue(at now: UInt64? = nil) {
        guard let next = run.nextRequest(for: self, now: now ?? uv_hrtime()) else {
            perform(machine.issued(false))
            return
        }
        perform(machine.issued(true))
        send(next)
    }

    private func send(_ next: BenchRequest) {
        waitingSince = uv_now(run.loop.raw)
        request = next
        response = BenchResponse()
        completed = false
        lastWasValue = false
        inLocation = false
        fieldName.removeAll(keepingCapacity: true)
        fieldValue.removeAll(keepingCapacity: true)
        http_parser_init(parser, HTTP_RESPONSE)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        if next.expectedDigest != nil { berth_sha256_init(&hasher) }
        if next.head.count > headBuffer.count {
            headBuffer.deallocate()
            headBuffer = .allocate(byteCount: next.head.count, alignment: 8)
        }
        next.head.withUnsafeBytes { headBuffer.copyMemory(from: $0) }
        var head = uv_buf_t(base: headBuffer.baseAddress!.assumingMemoryBound(to: CChar.self), len: next.head.count)
        var body = uv_buf_t(base: UnsafeMutablePointer(mutating: next.body.baseAddress?.assumingMemoryBound(to: CChar.self)), len: next.body.count)
        // What the socket takes at once needs no write request: uv_write alone costs a callback and an
        // epoll_ctl per request (1.4 % in `perf`), as BerthHTTP's StreamTransport notes.
        var buffers = (head, body)
        let taken = withUnsafeMutablePointer(to: &buffers) { pair in
            pair.withMemoryRebound(to: uv_buf_t.self, capacity: 2) { uv_try_write(stream, $0, next.body.count > 0 ? 2 : 1) }
        }
        if Int(taken) == next.head.count + next.body.count { return }
        if taken < 0, taken != Int32(UV_EAGAIN.rawValue) {
            perform(machine.streamEnded())
            return
        }
        let written = Int(max(taken, 0))
        if written >= head.len {
            body.base += written - head.len
            body.len -= written - head.len
            buffers = (body, body)
        } else {
            head.base += written
            head.len -= written
            buffers = (head, body)
        }
        let count: UInt32 = written >= next.head.count || next.body.count == 0 ? 1 : 2
        writeRequest.pointee.data = tcp.pointee.data
        writing = true
        let status = withUnsafeMutablePointer(to: &buffers) { pair in
            pair.withMemoryRebound(to: uv_buf_t.self, capacity: 2) { uv_write(writeRequest, stream, $0, count) { request, status in
                Unmanaged<BenchConnection>.fromOpaque(request!.pointee.data)._withUnsafeGuaranteedRef { $0.didWrite(status) }
            } }
        }
        if status != 0 {
            writing = false
            perform(machine.streamEnded())
        }
    }

    private func didWrite(_ status: Int32) {
        writing = false
        if status != 0 {
            perform(machine.streamEnded())
        } else if answeredWhileWriting {
            answeredWhileWriting = false
            if machine.state == .idle { issue() }
        }
    }

    private func didRead(_ count: Int, _ bytes: UnsafeRawPointer?) {
        if count > 0 {
            let consumed = http_parser_execute(parser, request.wantsLocation ? BenchConnection.settingsWithHeaders : BenchConnection.settings,
                                               bytes?.assumingMemoryBound(to: CChar.self), count)
            if completed {
                perform(machine.responseComplete(keepAlive: keepAlive))
            } else if consumed != count || parser.pointee.http_errno != 0 {
                perform(machine.streamEnded())
            }
        } else if count < 0 {
            // The end of a body delimited by the close (RFC 9112 §6.3 item 8) completes the response.
            if machine.state == .awaitingResponse {
                http_parser_execute(parser, request.wantsLocation ? BenchConnection.settingsWithHeaders : BenchConnection.settings, nil, 0)
                if completed {
                    perform(machine.responseComplete(keepAlive: false))
                    return
                }
            }
            perform(machine.streamEnded())
        }
    }

    /// The run's watchdog found this connection waiting too long.
    func timedOut() {
        switch machine.timedOut() {
        case .failRequest:
            run.requestFailed(self, timedOut: true)
            closeSocket()
        case .giveUp:
            run.connectFailed("timed out")
            closeSocket()
        default: break
        }
    }

    var isWaiting: Bool { machine.state == .awaitingResponse || machine.state == .connecting }

    private func closeSocket() {
        guard uv_is_closing(handle) == 0 else { return }
        uv_close(handle) { handle in
            let connection = Unmanaged<BenchConnection>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            connection.didClose()
        }
    }

    private func didClose() {
        writing = false
        answeredWhileWriting = false
        if machine.socketClosed() {
            connect()
        } else {
            run.connectionClosed(self)
        }
    }

    // MARK: http-parser callbacks

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
        guard request.wantsLocation else { return 0 }
        if lastWasValue {
            fieldName.removeAll(keepingCapacity: true)
            lastWasValue = false
        }
        fieldName.append(contentsOf: bytes)
        return 0
    }

    func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard request.wantsLocation else { return 0 }
        if !lastWasValue {
            lastWasValue = true
            inLocation = ASCII.equalsIgnoringCase(fieldName, "location")
        }
        if inLocation { fieldValue.append(contentsOf: bytes) }
        return 0
    }

    func headersComplete() -> Int32 {
        response.status = Int(parser.pointee.status_code)
        if request.wantsLocation, !fieldValue.isEmpty { response.location = String(decoding: fieldValue, as: UTF8.self) }
        return request.isHead ? 1 : 0
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        response.bodyBytes += bytes.count
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
