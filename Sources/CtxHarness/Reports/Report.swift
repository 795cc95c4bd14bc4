import Foundation

/// `ctxbench report`: any runs, ours or imported, combined into the platform table, degradation
/// curves with a cost model, quantization comparison and per-op breakdown, plus SVG charts.
public struct Report: Sendable {
    public struct Options: Sendable {
        /// The prompt size of the platform table's first column (the published tables use 16K).
        public var promptTokens = 16384
        /// The extended context of the platform table and the cost model's prediction.
        public var context = 262144
        public init() {}
    }

    public var tables: [ReportTable]
    /// File name -> SVG text.
    public var charts: [(name: String, svg: String)]
    public var sources: [String]
    /// Each run's platform: its label, fingerprint, and for imports the tool and backend.
    public var fingerprints: [(label: String, platform: PlatformInfo, source: String?, backend: String?)]

    /// How `write` renders the report.
    public enum Format: String, CaseIterable, Sendable {
        /// report.md and the charts as SVG files.
        case md
        /// One CSV per table, and the charts as SVG files.
        case csv
        /// report.html: one self-contained page (tables, inline charts with values on hover, fingerprints).
        case html
    }

    public init(runs loaded: [LoadedRun], options: Options = Options()) {
        let runs = LoadedRun.namingPlatforms(loaded)
        let groups = Series.group(runs)
        let (curves, fits) = DegradationReport.make(groups, context: options.context)
        let ops = OpBreakdownReport.make(groups)
        tables = [PlatformTable.make(groups, promptTokens: options.promptTokens, context: options.context), curves, fits,
                  QuantizationReport.make(runs), ops.table, EngineComparison.make(runs)].filter { !$0.rows.isEmpty }
        sources = runs.map { run in
            let what = run.metadata.source.map { "imported from \($0)" } ?? "ctxbench run, commit \(run.metadata.gitCommit ?? "unknown")"
            // A run that did not finish says so, with how much of its plan it holds.
            let cells = run.metadata.status == "complete" ? "\(run.cells.count) cells"
                : "\(run.cells.count) of \(run.metadata.cellsPlanned) planned cells (status \(run.metadata.status))"
            return "\(run.path): \(run.metadata.platformLabel), \(what), \(cells)"
        }
        fingerprints = runs.map { ($0.metadata.platformLabel, $0.metadata.platform, $0.metadata.source, $0.metadata.backend) }
        charts = []
        for kind in [Curve.Kind.generation, .prefill] {
            let lines = groups.compactMap { g -> SVGChart.Line? in
                guard let c = Curve.of(kind, cells: g.cells), !c.points.isEmpty else { return nil }
                return SVGChart.Line(label: "\(g.series.label) (\(c.meaning))", points: c.points.map { ($0.context, $0.rate) })
            }
            if lines.isEmpty { continue }
            let chart = SVGChart(title: kind == .generation ? "Generation rate against context" : "Prefill rate against context",
                                 xLabel: "context (tokens, log2 scale)", yLabel: "tokens/s", lines: lines)
            charts.append((kind == .generation ? "rate-generation.svg" : "rate-prefill.svg", chart.svg))
        }
        for (i, s) in ops.shares.enumerated() where s.points.count > 1 {
            let families = OpBreakdownReport.families.filter { f in s.points.contains { ($0.share[f] ?? 0) > 0 } }
            let lines = families.map { f in SVGChart.Line(label: f, points: s.points.map { ($0.depth, $0.share[f] ?? 0) }) }
            var chart = SVGChart(title: "Share of time by op family: \(s.title)", xLabel: "depth (tokens, log2 scale)",
                                 yLabel: "share of time", lines: lines)
            chart.yIsFraction = true
            charts.append(("ops-\(i + 1).svg", chart.svg))
        }
    }

    public var markdown: String {
        var parts = ["# ctxbench report", "", "Runs:", ""] + sources.map { "- \($0)" } + [""]
        parts += tables.map(\.markdown)
        if !charts.isEmpty {
            parts += ["## Charts", ""] + charts.map { "![\($0.name)](\($0.name))" } + [""]
        }
        return parts.joined(separator: "\n")
    }

    /// The report as one self-contained HTML page.
    public var html: String { HTMLReport.page(self) }

    /// The files `write` puts in its directory, name -> contents.
    public func files(_ format: Format) -> [(name: String, contents: String)] {
        switch format {
        case .md: [("report.md", markdown)] + charts.map { ($0.name, $0.svg) }
        case .csv: tables.map { ("\($0.name).csv", $0.csv) } + charts.map { ($0.name, $0.svg) }
        case .html: [("report.html", html)]
        }
    }

    /// Writes report.md (or one CSV per table) and the charts into `directory`, each file
    /// atomically. Never into a run directory (its cells.csv and ops.csv are the run's own); a file
    /// that exists is replaced only when `replacing` (an earlier report), else nothing is written.
    public func write(to directory: String, format: Format, replacing: Bool) throws {
        if RunDirectory.holdsRun(directory) {
            throw RunDirectory.Refusal(message: "\(directory) is a run directory; a report never writes over a run's files. Choose another --out")
        }
        if FileError.kind(of: directory).map({ $0 != .directory }) == true {
            throw RunDirectory.Refusal(message: "\(directory) exists and is not a directory; choose another --out")
        }
        let files = files(format)
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let existing = files.map(\.name).filter { FileError.kind(of: path($0)) != nil }
        if !existing.isEmpty && !replacing {
            throw RunDirectory.Refusal(message: "\(directory) already holds \(existing.joined(separator: ", ")); "
                + "add --force to replace an earlier report's files, or choose another --out (nothing was written)")
        }
        for file in files { try AtomicFile.write(file.contents, to: path(file.name)) }
    }
}
