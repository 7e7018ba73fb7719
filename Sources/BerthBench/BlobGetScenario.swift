/// `blob-get`: the seeded layer (`--size` bytes), whole or, with `--range a-b`, that byte range (206).
final class BlobGetScenario: BenchScenario {
    let name = "blob-get"
    private let context: ScenarioContext
    private let image: SyntheticImage
    private let fixed: BenchRequest

    init(_ context: ScenarioContext) {
        self.context = context
        image = context.image
        var headers: [String] = []
        var expected = 200...200
        var slice = image.layer.bytes[...]
        if let range = context.range {
            headers.append("Range: bytes=\(range.lowerBound)-\(range.upperBound)")
            expected = 206...206
            slice = image.layer.bytes[min(range.lowerBound, slice.count)..<min(range.upperBound + 1, slice.count)]
        }
        let head = context.heads.make("GET", "/v2/\(context.repository)/blobs/\(image.layer.digest)", headers: headers)
        fixed = BenchRequest(head: head, expected: expected, expectedDigest: context.verify ? SHA256Value.of(Array(slice)) : nil)
    }

    func seeding() -> BenchScenario? { context.seedRegistry ? ImageSeeding(context, image: image) : nil }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        step == 0 ? fixed : nil
    }
}
