import CtxHarness
import Foundation

/// `ctxbench report DIR...`: combines runs (ours and imported) into tables and charts.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "report",
        abstract: "Report on runs: platform table, degradation with a cost model, quantization, per-op breakdown, charts.",
        discussion: """
        Any number of run directories, from `ctxbench run` or `ctxbench import`. Without --out the
        report goes to stdout. With --out DIR: report.md (or one CSV per table with --format csv) and
        SVG charts (rate against context on a log2 axis; per-op share against depth), or with --format
        html one self-contained report.html (tables, charts with values on hover, platform
        fingerprints; no network). --out never writes into a run directory, and replaces files of an
        earlier report only with --force. Platform table: prompt S_PP at --prompt-tokens, generation
        S_TG at the same context, and both at --context (or a series' largest context, named); the
        cost model predicts the rate at --context where it was not measured, and says so.
        """,
        arguments: [ArgumentSpec("dir", help: "Run directories.", repeating: true)],
        options: [
            .value("--out", "dir", help: "Write report.md (or CSVs) and charts here."),
            .choice("--format", Report.Format.self, help: "Output format.", default: .md),
            .value("--prompt-tokens", "n", help: "Prompt size of the platform table's first column.", default: "16384"),
            .value("--context", "n", help: "Extended context of the platform table and the cost model.", default: "262144"),
            .flag("--force", help: "Replace report files an earlier report wrote in --out."),
        ]
    )

    let directories: [String]
    let out: String?
    let format: Report.Format
    let force: Bool
    var options = Report.Options()

    init(parsed: ParsedArguments) throws {
        directories = parsed.positionals
        guard !directories.isEmpty else { throw UsageError("missing the run directories to report on") }
        out = parsed.string("--out")
        format = try parsed.choice("--format", as: Report.Format.self)!
        options.promptTokens = try parsed.int("--prompt-tokens", in: 1...1_048_576)!
        options.context = try parsed.int("--context", in: 1...1_048_576)!
        force = parsed.flag("--force")
    }

    func run(io: CommandIO) throws -> Int32 {
        let runs = try directories.map(LoadedRun.load)
        let report = Report(runs: runs, options: options)
        if report.tables.isEmpty {
            io.err("report: no finished ok cells in \(directories.joined(separator: ", "))\n")
            return ExitCode.failure
        }
        if let out {
            try report.write(to: out, format: format, replacing: force)
            io.out("wrote \(report.files(format).map(\.name).joined(separator: ", ")) to \(out)\n")
        } else {
            switch format {
            case .md: io.out(report.markdown)
            case .csv: io.out(report.tables.map { "# \($0.title)\n" + $0.csv }.joined(separator: "\n"))
            case .html: io.out(report.html)
            }
        }
        return ExitCode.success
    }
}
