@testable import BerthStorage
import BerthTestSupport
import Glibc
import XCTest

/// Upload bytes written in whole blocks from a `DirectIOBuffer` bypass the page cache; the rest goes
/// through it; either way the file holds every byte and the blob commits under the right digest.
final class DirectWriteTests: XCTestCase {
    private var root = ""
    private let repository = RepositoryName("direct/test")!

    override func setUpWithError() throws {
        // On the disk that holds the checkout, not /tmp, which may be a tmpfs: O_DIRECT needs a real disk.
        root = try TemporaryDirectory.make("direct-write-tests", onDisk: true)
    }

    override func tearDown() {
        TemporaryDirectory.remove(root)
    }

    func test_the_buffer_keeps_its_alignment_and_bytes_when_it_grows_and_moves_a_tail() {
        let buffer = DirectIOBuffer(capacity: 10)
        XCTAssertEqual(buffer.capacity, DirectIOBuffer.alignment)
        let first = pattern(5000, seed: 1)
        first.withUnsafeBytes { buffer.append($0) }
        let second = pattern(9000, seed: 2)
        second.withUnsafeBytes { buffer.append($0) }
        XCTAssertEqual(Int(bitPattern: buffer.bytes.baseAddress) % DirectIOBuffer.alignment, 0)
        XCTAssertGreaterThanOrEqual(buffer.capacity, 14000)
        XCTAssertEqual(Array(buffer.bytes), first + second)

        let next = DirectIOBuffer(capacity: 100)
        buffer.moveTail(3000, to: next)
        XCTAssertEqual(Array(buffer.bytes), Array((first + second).prefix(11000)))
        XCTAssertEqual(Array(next.bytes), Array(second.suffix(3000)))
        buffer.removeAll()
        XCTAssertTrue(buffer.isEmpty)
        XCTAssertEqual(DirectIOBuffer.overhang(endingAt: 3 * 4096), 0)
        XCTAssertEqual(DirectIOBuffer.overhang(endingAt: 3 * 4096 + 17), 17)
    }

    func test_bytes_read_into_the_free_space_are_appended_where_they_lie_or_moved_down_past_framing() {
        let buffer = DirectIOBuffer(capacity: 64)
        buffer.append(UnsafeRawBufferPointer(start: Array("ab".utf8), count: 2))
        let free = buffer.freeSpace
        XCTAssertEqual(free.count, buffer.capacity - 2)
        // Read in place: taken without moving.
        free.copyBytes(from: Array("cd".utf8))
        buffer.append(UnsafeRawBufferPointer(rebasing: free[0..<2]))
        XCTAssertEqual(Array(buffer.bytes), Array("abcd".utf8))
        // Read after three bytes of framing ("3\r\n" of a chunk): moved down onto the tail.
        let next = buffer.freeSpace
        next.copyBytes(from: Array("3\r\nefg".utf8))
        buffer.append(UnsafeRawBufferPointer(rebasing: next[3..<6]))
        XCTAssertEqual(Array(buffer.bytes), Array("abcdefg".utf8))
        XCTAssertEqual(buffer.freeSpace.count, buffer.capacity - 7)
    }

    func test_the_memory_of_a_finished_buffer_serves_the_next_one() {
        var first: DirectIOBuffer? = DirectIOBuffer(capacity: 1 << 20)
        let address = first?.bytes.baseAddress
        first = nil
        let second = DirectIOBuffer(capacity: 1 << 20)
        XCTAssertEqual(second.bytes.baseAddress, address, "an idle block of the right size is reused, not mapped anew")
        XCTAssertEqual(Int(bitPattern: second.bytes.baseAddress) % DirectIOBuffer.alignment, 0)
    }

    func test_whole_blocks_at_a_boundary_bypass_the_page_cache_and_the_rest_does_not() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: true)
        let session = try store.createUpload(in: repository)
        let first = pattern(3 * 4096 + 100, seed: 3)
        try append(first, to: session)
        let dataPath = store.path(.uploadData(.repository(repository), id: session.id))
        XCTAssertEqual(try residentPages(dataPath), [false, false, false, true],
                       "three whole blocks written directly, the 100-byte tail through the page cache")

        // Starting off a boundary, everything goes through the page cache, and no byte is lost.
        let second = pattern(2 * 4096, seed: 4)
        try append(second, to: session)
        XCTAssertEqual(try residentPages(dataPath), [false, false, false, true, true, true])
        XCTAssertEqual(try FileSystem.read(dataPath, limit: 1 << 20), first + second)

        try session.checkpoint()
        let digest = Digest.sha256(of: first + second)
        XCTAssertEqual(try session.commit(expected: digest), Int64(first.count + second.count))
        XCTAssertEqual(try FileSystem.read(store.path(.blobData(digest)), limit: 1 << 20), first + second)
    }

    func test_with_direct_writes_off_every_byte_goes_through_the_page_cache() throws {
        let store = try RegistryStore(rootDirectory: root, fsync: false, directWrites: false)
        let session = try store.createUpload(in: repository)
        let bytes = pattern(2 * 4096, seed: 5)
        try append(bytes, to: session)
        let dataPath = store.path(.uploadData(.repository(repository), id: session.id))
        XCTAssertEqual(try residentPages(dataPath), [true, true])
        XCTAssertEqual(try FileSystem.read(dataPath, limit: 1 << 20), bytes)
    }

    private func append(_ bytes: [UInt8], to session: UploadSession) throws {
        let buffer = DirectIOBuffer(capacity: bytes.count)
        bytes.withUnsafeBytes { buffer.append($0) }
        try session.append(buffer.bytes)
    }

    private func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    /// For each page of the file, whether it is in the page cache (`mincore` of a mapping, which faults nothing in).
    private func residentPages(_ path: String) throws -> [Bool] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw StorageError.notFound(path) }
        defer { close(descriptor) }
        var status = stat()
        fstat(descriptor, &status)
        let length = Int(status.st_size)
        guard let mapping = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED else {
            throw StorageError.system(operation: "mmap", path: path, errno: errno)
        }
        defer { munmap(mapping, length) }
        let pages = (length + 4095) / 4096
        var vector = [UInt8](repeating: 0, count: pages)
        guard mincore(mapping, length, &vector) == 0 else {
            throw StorageError.system(operation: "mincore", path: path, errno: errno)
        }
        return vector.map { $0 & 1 == 1 }
    }
}
