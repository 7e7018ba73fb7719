import BerthHTTP

/// What `mirror-cold` measured beyond a run's counts: each round's clients' times to first and last byte
/// (client order; nil for a client that failed) and the upstream's GETs of the round's blob.
public struct MirrorColdRound {
    public var digest: String
    public var firstByte: [UInt64?]
    public var lastByte: [UInt64?]
    /// Nil: the upstream's books could not be read (see `MirrorColdFigures.note`).
    public var upstreamFetches: Int?
}

public struct MirrorColdFigures {
    public private(set) var rounds: [MirrorColdRound] = []
    /// Over every client of every round.
    public private(set) var firstByte = LatencyHistogram()
    public private(set) var lastByte = LatencyHistogram()
    /// `metrics`, `log` or `none`.
    public let source: String
    public let note: String?

    init(counter: UpstreamFetchCounter) {
        source = counter.source
        if case .unknown(let reason) = counter { note = reason } else { note = nil }
    }

    mutating func append(_ round: MirrorColdRound) {
        rounds.append(round)
        for value in round.firstByte.compactMap({ $0 }) { firstByte.record(value) }
        for value in round.lastByte.compactMap({ $0 }) { lastByte.record(value) }
    }

    /// Over all rounds; nil when any round's is unknown.
    public var upstreamFetches: Int? {
        rounds.reduce(Optional(0)) { sum, round in sum.flatMap { sum in round.upstreamFetches.map { sum + $0 } } }
    }

    func json() -> String {
        func histogram(_ histogram: LatencyHistogram) -> String {
            "{" + ScenarioReport.microseconds(histogram).map { "\(JSONString.quoted($0.0)):\(ScenarioReport.fixed($0.1, 3))" }.joined(separator: ",") + "}"
        }
        func list(_ values: [UInt64?]) -> String {
            "[" + values.map { $0.map { ScenarioReport.fixed(Double($0) / 1000, 3) } ?? "null" }.joined(separator: ",") + "]"
        }
        let rounds = rounds.map { round -> String in
            let fetches = round.upstreamFetches.map { "\($0)" } ?? "null"
            return "{\"digest\":" + JSONString.quoted(round.digest) + ",\"upstream_fetches\":" + fetches
                + ",\"first_byte_us\":" + list(round.firstByte) + ",\"last_byte_us\":" + list(round.lastByte) + "}"
        }
        let fetches = upstreamFetches.map { "\($0)" } ?? "null"
        var out = ",\"mirror\":{\"upstream_fetch_source\":" + JSONString.quoted(source)
        out += ",\"upstream_fetch_note\":" + (note.map { JSONString.quoted($0) } ?? "null")
        out += ",\"upstream_fetches\":" + fetches
        out += ",\"first_byte_us\":" + histogram(firstByte) + ",\"last_byte_us\":" + histogram(lastByte)
        return out + ",\"rounds\":[" + rounds.joined(separator: ",") + "]}"
    }

    func text() -> String {
        func line(_ label: String, _ histogram: LatencyHistogram) -> String {
            "  \(label) ms: " + ScenarioReport.microseconds(histogram).map { "\($0.0) \(ScenarioReport.fixed($0.1 / 1000, 2))" }
                .joined(separator: "  ") + "\n"
        }
        var out = "  \(rounds.count) cold rounds, \(firstByte.count) clients answered\n"
        out += line("first byte", firstByte) + line("last byte ", lastByte)
        if let note {
            out += "  upstream fetches: unknown (\(note))\n"
        } else {
            let each = rounds.map { $0.upstreamFetches.map { "\($0)" } ?? "?" }.joined(separator: ", ")
            out += "  upstream GETs of the blob (by its \(source)): \(each) per round\n"
        }
        return out
    }
}
