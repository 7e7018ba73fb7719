import BerthStorage

/// The hash of a led download, updated by its hashing thread and read on the loop once that thread ended.
final class HashState {
    var hasher = SHA256Hasher()
}
