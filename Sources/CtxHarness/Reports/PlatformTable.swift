import Foundation

/// The table the published Step-3.5-Flash results use: one row per series (platform, model,
/// weights, ...), and in it, as the source's columns mean them:
///   prompt at N       S_PP(N): prefill of N tokens from an empty context (llama-batched-bench)
///   generation at N   S_TG at the same context N (decoding right after that prefill)
///   extended context  both at the extended context C (262K), or, where a series stops short, at
///                     its largest context, with that context named ("43.10 @ 64K")
/// For ctxbench's own runs, which measure a test at a depth rather than from empty, the prompt
/// figure is the ladder's rate at depth N and says which test it is ("244.05 (pp512 @ d16384)").
enum PlatformTable {
    static func make(_ groups: [(series: Series, cells: [CellResult], run: LoadedRun)], promptTokens: Int, context: Int) -> ReportTable {
        let n = Format.tokens(promptTokens), c = Format.tokens(context)
        var table = ReportTable(
            name: "platforms", title: "Platforms",
            header: ["platform", "backend", "model", "weights", "cache", "threads",
                     "prompt \(n) t/s", "generation @ \(n) t/s", "extended context: prefill t/s", "extended context: generation t/s"],
            numeric: [5, 6, 7, 8, 9])
        var labelled = false
        for g in groups {
            func cell(_ value: Figure?, at: Int? = nil) -> String {
                guard let value else { return "-" }
                var text = Format.rate(value.rate)
                if let at, at != context { text += " @ \(Format.tokens(at))" }
                if let label = value.label { text += " (\(label))"; labelled = true }
                return text
            }
            let backend = g.series.engine.isEmpty
                ? g.run.metadata.backend ?? (g.run.metadata.source == nil ? "CPU (ctxbench)" : "-")
                : "\(g.run.metadata.llamaCpp?.first { $0.engine == g.series.engine }?.backends ?? "-") (\(g.series.engine))"
            // The extended context: C when measured, else the largest context with a figure.
            let extended = [context] + contexts(g.cells).filter { $0 != context }.sorted(by: >)
            let reach = extended.first { prefill(g.cells, at: $0) != nil || generation(g.cells, at: $0) != nil }
            table.rows.append([g.series.platform, backend, g.series.model, g.series.weightType, g.series.cacheType,
                               g.series.threads > 0 ? String(g.series.threads) : "-",
                               cell(prefill(g.cells, at: promptTokens)), cell(generation(g.cells, at: promptTokens)),
                               cell(reach.flatMap { prefill(g.cells, at: $0) }, at: reach),
                               cell(reach.flatMap { generation(g.cells, at: $0) }, at: reach)])
        }
        table.notes.append("Prompt: S_PP(N), prefill of N tokens from an empty context; generation: S_TG at the same context N. "
            + "Extended context: both at \(c), or where a series stops short, at its largest context, named (`@ 64K`).")
        if labelled {
            table.notes.append("A label in parentheses names the test a figure comes from when it is not that: "
                + "`pp512 @ d16384` is the rate of prefilling 512 more tokens into a 16K context (ctxbench's depth ladder), "
                + "lower than an average from empty.")
        }
        return table
    }

    struct Figure { var rate: Double; var label: String? }

    /// Every context a series has a prefill or generation figure at.
    static func contexts(_ cells: [CellResult]) -> Set<Int> {
        var out = Set<Int>()
        for cell in cells {
            if cell.nGen == 0 && cell.nPrompt > 0 { out.insert(cell.nDepth == 0 ? cell.nPrompt : cell.nDepth) }
            if cell.nPrompt == 0 && cell.nGen > 0 && cell.nDepth > 0 { out.insert(cell.nDepth) }
        }
        return out
    }

    /// Prefill at context n: S_PP(n) (a ppN cell from empty, or a fill of n tokens from empty that
    /// llama-batched-bench timed), else the ladder's most common pp test at depth n, labelled.
    static func prefill(_ cells: [CellResult], at n: Int) -> Figure? {
        if let fromEmpty = cells.first(where: { $0.nPrompt == n && $0.nGen == 0 && $0.nDepth == 0 }), let r = fromEmpty.rate?.mean {
            return Figure(rate: r, label: nil)
        }
        // llama-batched-bench's prefill of n tokens from empty before a tg test at depth n.
        if let filled = cells.first(where: { $0.nDepth == n && n > 0 && $0.fillFromDepth == 0 }), let f = filled.fillSeconds, f > 0 {
            return Figure(rate: Double(n) / f, label: nil)
        }
        let atDepth = cells.filter { $0.nGen == 0 && $0.nPrompt > 0 && $0.nDepth == n && n > 0 }
        guard let size = Curve.mostCommon(atDepth.map(\.nPrompt)),
              let c = atDepth.first(where: { $0.nPrompt == size }), let r = c.rate?.mean else { return nil }
        return Figure(rate: r, label: c.test)
    }

    /// Generation at context n: the most common tg test at depth n (S_TG after a prefill of n).
    static func generation(_ cells: [CellResult], at n: Int) -> Figure? {
        let tg = cells.filter { $0.nPrompt == 0 && $0.nGen > 0 }
        guard let size = Curve.mostCommon(tg.map(\.nGen)),
              let c = tg.first(where: { $0.nGen == size && $0.nDepth == n }), let r = c.rate?.mean else { return nil }
        return Figure(rate: r, label: nil)
    }
}
