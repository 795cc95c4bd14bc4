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

    public init(runs: [LoadedRun], options: Options = Options()) {
        let groups = Series.group(runs)
        let (curves, fits) = DegradationReport.make(groups, context: options.context)
        let ops = OpBreakdownReport.make(groups)
        tables = [PlatformTable.make(groups, promptTokens: options.promptTokens, context: options.context), curves, fits,
                  QuantizationReport.make(runs), ops.table].filter { !$0.rows.isEmpty }
        sources = runs.map { run in
            let what = run.metadata.source.map { "imported from \($0)" } ?? "ctxbench run, commit \(run.metadata.gitCommit ?? "unknown")"
            return "\(run.path): \(run.metadata.platformLabel), \(what), \(run.cells.count) cells"
        }
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

    /// Writes report.md (or one CSV per table) and the charts into `directory`, each file atomically.
    public func write(to directory: String, csv: Bool) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        if csv {
            for t in tables { try AtomicFile.write(t.csv, to: path("\(t.name).csv")) }
        } else {
            try AtomicFile.write(markdown, to: path("report.md"))
        }
        for chart in charts { try AtomicFile.write(chart.svg, to: path(chart.name)) }
    }
}
