/// `tags-list` and `catalog`: one listing GET each, on a registry holding the seeded image.
final class ListScenario: BenchScenario {
    let name: String
    private let context: ScenarioContext
    private let fixed: BenchRequest

    init(_ context: ScenarioContext, name: String, target: String, authSlot: AuthSlot = .pull) {
        self.context = context
        self.name = name
        fixed = BenchRequest(head: context.heads.make("GET", target), expected: 200...200, authSlot: authSlot)
    }

    func seeding() -> BenchScenario? { context.seedRegistry ? ImageSeeding(context, image: context.image) : nil }

    func request(operation: Int, step: Int, after previous: BenchResponse?) -> BenchRequest? {
        step == 0 ? fixed : nil
    }
}
