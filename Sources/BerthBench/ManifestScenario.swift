/// `manifest-get` and `manifest-head`: the seeded image's manifest by tag, or with `--by-digest` by its
/// digest. A HEAD on a kept-alive connection is what wrk cannot time (it waits for a body).
final class ManifestScenario: BenchScenario {
    let name: String
    private let context: ScenarioContext
    private let image: SyntheticImage
    private let fixed: BenchRequest

    static let accept = "Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, " +
        "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json"

    init(_ context: ScenarioContext, head: Bool) {
        self.context = context
        name = head ? "manifest-head" : "manifest-get"
        image = context.image
        let reference = context.byDigest ? "\(image.manifest.digest)" : context.tag
        let request = context.heads.make(head ? "HEAD" : "GET", "/v2/\(context.repository)/manifests/\(reference)", headers: [ManifestScenario.accept])
        let digest = context.verify && !head ? SHA256Value.of(image.manifest.bytes) : nil
        fixed = BenchRequest(head: request, isHead: head, expected: 200...200, expectedDigest: digest)
    }

    func seeding() -> BenchScenario? { context.seedRegistry ? ImageSeeding(context, image: image) : nil }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        step == 0 ? fixed : nil
    }
}
