@testable import BerthUpstream
import Foundation

/// Records what a handler is told, and checks the protocol of the calls as it goes.
final class RecordingHandler: UpstreamResponseHandler {
    var status: Int?
    var headers = UpstreamHeaders()
    var body: [UInt8] = []
    var error: UpstreamError?
    var endCount = 0
    var callsAfterEnd = 0
    var bodyCallsWhilePaused = 0
    private(set) var exchange: UpstreamExchange?
    var onHead: ((UpstreamExchange) -> Void)?
    var onBody: ((RecordingHandler, UpstreamExchange, UnsafeRawBufferPointer) -> Void)?
    /// Set to check the body as it streams instead of keeping it (large transfers).
    var verifier: PatternVerifier?

    /// Set to offer the connection memory to read the body into (`bodyDestination`); the bytes that
    /// arrive where it was offered are counted in `bytesInPlace`.
    var destination: UnsafeMutableRawBufferPointer?
    private var destinationUsed = 0
    private(set) var bytesInPlace = 0

    var ended: Bool { endCount > 0 }

    func bodyDestination() -> UnsafeMutableRawBufferPointer? {
        guard let destination else { return nil }
        if destination.count - destinationUsed < 64 << 10 { destinationUsed = 0 }
        return UnsafeMutableRawBufferPointer(rebasing: destination[destinationUsed...])
    }

    private func noteDestination(_ bytes: UnsafeRawBufferPointer) {
        guard let destination, let start = destination.baseAddress, let source = bytes.baseAddress,
              source >= UnsafeRawPointer(start), source < UnsafeRawPointer(start + destination.count) else { return }
        if source == UnsafeRawPointer(start + destinationUsed) { bytesInPlace += bytes.count }
        destinationUsed = source - UnsafeRawPointer(start) + bytes.count
    }
    var text: String { String(decoding: body, as: UTF8.self) }

    func head(status: Int, headers: UpstreamHeaders, exchange: UpstreamExchange) {
        if ended { callsAfterEnd += 1 }
        self.status = status
        self.headers = headers
        self.exchange = exchange
        onHead?(exchange)
    }

    func body(_ bytes: UnsafeRawBufferPointer) {
        if ended { callsAfterEnd += 1 }
        if exchange?.isPaused == true { bodyCallsWhilePaused += 1 }
        noteDestination(bytes)
        if let verifier { verifier.check(bytes) } else { body.append(contentsOf: bytes) }
        if let exchange { onBody?(self, exchange, bytes) }
    }

    func end(error: UpstreamError?) {
        endCount += 1
        self.error = error
    }

    /// The echo endpoint's JSON answer.
    var echo: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
    }

    var echoedHeaders: [String: String] {
        (echo["headers"] as? [String: String]) ?? [:]
    }
}

/// Checks a body against the peer's pattern (byte i is i mod 251) without keeping it.
final class PatternVerifier {
    private static let pattern: [UInt8] = (0..<(251 * 520)).map { UInt8($0 % 251) }
    private(set) var count = 0
    private(set) var mismatches = 0

    func check(_ bytes: UnsafeRawBufferPointer) {
        var done = 0
        while done < bytes.count {
            let phase = (count + done) % 251
            let length = min(bytes.count - done, Self.pattern.count - phase)
            let equal = Self.pattern.withUnsafeBytes { pattern in
                memcmp(pattern.baseAddress! + phase, bytes.baseAddress! + done, length) == 0
            }
            if !equal { mismatches += 1 }
            done += length
        }
        count += bytes.count
    }
}
