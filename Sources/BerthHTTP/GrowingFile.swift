/// A file still being written (a download in progress) that a response sends as its bytes become final:
/// the connection sends what is there, then waits to be woken, so many clients follow one writer.
public protocol GrowingFile: AnyObject {
    /// How many bytes from the start of the file are written and final.
    var availableBytes: Int64 { get }
    /// Calls `wake` once, on the loop, when more than `offset` bytes are available (`true`) or when the
    /// file will never reach its announced size (`false`: the connection is closed, the body cut short).
    func whenAvailable(beyond offset: Int64, _ wake: @escaping (Bool) -> Void)
}
