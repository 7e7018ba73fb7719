import Glibc

/// A file descriptor closed when the last holder lets go: a response body holds it while it is sent (perhaps
/// from a pool thread), and a cache of open files may hold it across many responses.
public final class OpenFile: @unchecked Sendable {
    public let descriptor: Int32

    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }
}
