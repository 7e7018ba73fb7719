import Glibc
import Synchronization

/// Page-aligned memory for `DirectIOBuffer`s, mapped whole and unmapped whole so it goes back to the system
/// (glibc's heap kept the aligned blocks of finished uploads: 73 MiB after 32 concurrent pushes), with a few
/// idle blocks kept for the next upload: a fresh mapping costs a page fault per 4 KiB on first touch.
enum MappedBlockPool {
    /// Idle blocks kept, in bytes.
    static let idleLimit = 8 << 20

    private struct Block {
        let address: UInt
        let size: Int
    }

    private static let idle = Mutex<[Block]>([])

    /// A block of at least `size` bytes (a multiple of the page size): an idle one that fits, or a new mapping.
    static func take(_ size: Int) -> (UnsafeMutableRawPointer, Int) {
        let reused = idle.withLock { blocks -> Block? in
            guard let index = blocks.firstIndex(where: { $0.size >= size && $0.size <= 2 * size }) else { return nil }
            return blocks.remove(at: index)
        }
        if let reused, let address = UnsafeMutableRawPointer(bitPattern: reused.address) {
            return (address, reused.size)
        }
        guard let memory = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED else { fatalError("out of memory mapping \(size) bytes") }
        return (memory, size)
    }

    static func give(_ address: UnsafeMutableRawPointer, _ size: Int) {
        let kept = idle.withLock { blocks -> Bool in
            guard blocks.reduce(0, { $0 + $1.size }) + size <= idleLimit else { return false }
            blocks.append(Block(address: UInt(bitPattern: address), size: size))
            return true
        }
        if !kept { munmap(address, size) }
    }
}
