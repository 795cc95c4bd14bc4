import CtxHarness
import Foundation

/// `ctxbench gate --baseline B --candidate C`: a CI verdict as an exit code.
struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "gate",
        abstract: "Gate a candidate run against a baseline: exit 0 pass, 2 regression, 3 inconclusive, 4 improvements only.",
        discussion: """
        A cell regresses when it is slower by more than --max-regression and the Mann-Whitney U test
        on the raw samples finds the difference significant at --alpha. A cell whose samples are too
        few or too noisy to show a change of that size is inconclusive, and the gate prints the
        smallest change the data could detect. --normalize efficiency compares each run's rates as
        fractions of its own calibrated limits (FMA peak for prefill, DRAM bandwidth for generation).
        A cell of the baseline that the candidate is missing, failed or produced without a finite
        sample fails the gate (exit 7, with the list of cells); a cell the baseline could not produce
        is inconclusive.
        Exit status: 0 pass, 2 regression, 3 inconclusive, 4 improvements only, 5 baseline missing,
        unreadable or without matching cells, 6 hardware fingerprint differs (unless
        --allow-hardware-mismatch), 7 candidate missing, empty, or with failed or missing cells.
        """,
        options: [
            .value("--baseline", "dir", help: "Baseline run directory.", required: true),
            .value("--candidate", "dir", help: "Candidate run directory.", required: true),
            .value("--max-regression", "pct", help: "Largest slowdown that passes.", default: "5%"),
            .value("--alpha", "p", help: "Significance level.", default: "0.05"),
            .choice("--metric", Comparison.Metric.self, help: "What to gate on.", default: .rate),
            .choice("--normalize", Comparison.Normalization.self, help: "Compare fractions of calibrated limits.", default: .none),
            .flag("--allow-hardware-mismatch", help: "Gate runs from different hardware."),
        ]
    )

    var options = Gate.Options()
    let baseline: String
    let candidate: String

    init(parsed: ParsedArguments) throws {
        baseline = parsed.string("--baseline")!
        candidate = parsed.string("--candidate")!
        if let text = parsed.string("--max-regression") {
            let number = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text).map { $0 > 1 ? $0 / 100 : $0 }
            guard let number, number > 0, number < 1 else {
                throw UsageError("option '--max-regression' expects a percentage such as 5% (or 0.05), got '\(text)'")
            }
            options.maxRegression = number
        }
        options.alpha = try parsed.double("--alpha", in: 1e-6...0.5)!
        options.metric = try parsed.choice("--metric", as: Comparison.Metric.self)!
        options.normalize = try parsed.choice("--normalize", as: Comparison.Normalization.self)!
        options.allowHardwareMismatch = parsed.flag("--allow-hardware-mismatch")
    }

    func run(io: CommandIO) throws -> Int32 {
        let gate = Gate.run(baselinePath: baseline, candidatePath: candidate, options: options)
        io.out(gate.text)
        return gate.outcome.rawValue
    }
}
