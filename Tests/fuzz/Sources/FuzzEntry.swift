import Foundation

/// libFuzzer's entry points. One binary holds every target; `BERTH_FUZZ_TARGET` picks the one to run
/// (`make fuzz` runs each in turn with its corpus in Tests/fuzz/corpus/<target>).
nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["BERTH_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget.all.first(where: { $0.name == name }) else {
        let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
        FileHandle.standardError.write(Data("BERTH_FUZZ_TARGET must be one of: \(names)\n".utf8))
        exit(2)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    selected?.run(UnsafeBufferPointer(start: data, count: size))
    return 0
}

/// A fuzz target: takes any bytes, and traps (an invariant that does not hold, or Swift's own checks of
/// overflow and bounds) only on a defect.
struct FuzzTarget {
    let name: String
    let run: (UnsafeBufferPointer<UInt8>) -> Void

    static let all: [FuzzTarget] = [.requestHead, .configuration, .byteRange, .contentRange, .names, .route, .manifest, .upstreamResponse, .authChallenge, .htpasswd, .egress, .jwt, .s3XML]
}

/// Fails the run with a message libFuzzer shows beside the input that caused it.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

extension UnsafeBufferPointer<UInt8> {
    var text: String { String(decoding: self, as: UTF8.self) }

    /// The first eight bytes as a number (a size for the range targets), the rest as text.
    var numberAndText: (Int64, String) {
        var number: Int64 = 0
        for byte in prefix(8) { number = number << 8 | Int64(byte) }
        return (number, String(decoding: dropFirst(8), as: UTF8.self))
    }
}
