import CtxHarness
import Foundation

/// `ctxbench compare BASE CANDIDATE`: per matching cell, the change and its significance.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "compare",
        abstract: "Compare two runs cell by cell: medians, ratio, Mann-Whitney U p-value, geometric mean.",
        discussion: """
        Cells match by id (model/weights/cache/threads/numa/fill/test@depth). The ratio is candidate
        over base for rates (above 1 is faster). The p-value comes from the raw samples of both runs.
        For a CI verdict with exit codes, use `ctxbench gate`.
        """,
        arguments: [ArgumentSpec("base", help: "Base run directory."), ArgumentSpec("candidate", help: "Candidate run directory.")],
        options: [
            .choice("--format", TableFormat.self, help: "Output format.", default: .md),
            .choice("--metric", Comparison.Metric.self, help: "What to compare.", default: .rate),
            .value("--alpha", "p", help: "Significance level.", default: "0.05"),
            .choice("--normalize", Comparison.Normalization.self, help: "Divide by each run's calibrated limits.", default: .none),
        ]
    )

    let base: String
    let candidate: String
    let csv: Bool
    let metric: Comparison.Metric
    let alpha: Double
    let normalize: Comparison.Normalization

    init(parsed: ParsedArguments) throws {
        guard parsed.positionals.count == 2 else { throw UsageError("expected two run directories: BASE CANDIDATE") }
        base = parsed.positionals[0]
        candidate = parsed.positionals[1]
        csv = try parsed.choice("--format", as: TableFormat.self)! == .csv
        metric = try parsed.choice("--metric", as: Comparison.Metric.self)!
        normalize = try parsed.choice("--normalize", as: Comparison.Normalization.self)!
        alpha = try parsed.double("--alpha", in: 1e-6...0.5)!
    }

    func run(io: CommandIO) throws -> Int32 {
        let comparison = try Comparison(base: LoadedRun.load(base), candidate: LoadedRun.load(candidate), metric: metric,
                                        normalize: normalize, alpha: alpha)
        if comparison.rows.isEmpty {
            io.err("compare: no cell of \(candidate) matches a cell of \(base)\n")
            return ExitCode.failure
        }
        let table = comparison.table(alpha: alpha, metric: metric)
        io.out(csv ? table.csv : table.markdown)
        return ExitCode.success
    }
}

/// How a table is printed.
enum TableFormat: String, CaseIterable {
    case md, csv
}
