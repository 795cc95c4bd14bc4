import Foundation

/// The table the published Step-3.5-Flash results use: one row per platform (and model, weights),
/// the prompt rate at N tokens, the generation rate, and prefill / generation at an extended context.
///
/// Prompt rate at N: a `ppN` cell from an empty context (llama-batched-bench's S_PP) when there is
/// one; otherwise ctxbench's marginal prefill rate at depth N (`pp512 @ dN`), labelled as such.
/// Generation: the tg cell at the smallest depth. Extended context: the same two at depth C.
enum PlatformTable {
    static func make(_ groups: [(series: Series, cells: [CellResult], run: LoadedRun)], promptTokens: Int, context: Int) -> ReportTable {
        var table = ReportTable(
            name: "platforms", title: "Platforms",
            header: ["platform", "backend", "model", "weights", "cache", "threads",
                     "prompt \(Format.tokens(promptTokens)) t/s", "generation t/s",
                     "\(Format.tokens(context)) prefill t/s", "\(Format.tokens(context)) generation t/s"],
            numeric: [5, 6, 7, 8, 9])
        var labelled = false
        for g in groups {
            func cell(_ value: (rate: Double, label: String?)?) -> String {
                guard let value else { return "-" }
                if let label = value.label { labelled = true; return "\(Format.rate(value.rate)) (\(label))" }
                return Format.rate(value.rate)
            }
            let backend = g.run.metadata.backend ?? (g.run.metadata.source == nil ? "CPU (ctxbench)" : "-")
            table.rows.append([g.series.platform, backend, g.series.model, g.series.weightType, g.series.cacheType,
                               g.series.threads > 0 ? String(g.series.threads) : "-",
                               cell(prefill(g.cells, at: promptTokens)), cell(generation(g.cells, at: nil)),
                               cell(prefill(g.cells, at: context)), cell(generation(g.cells, at: context))])
        }
        table.notes.append("Prompt and prefill rates are S_PP (N tokens from an empty context) where the run has them.")
        if labelled {
            table.notes.append("A label in parentheses names the test a figure comes from when it is not that: "
                + "`pp512 @ d16384` is the rate of prefilling 512 more tokens into a 16K context (ctxbench's depth ladder), "
                + "lower than an average from empty.")
        }
        return table
    }

    static func prefill(_ cells: [CellResult], at n: Int) -> (rate: Double, label: String?)? {
        if let fromEmpty = cells.first(where: { $0.nPrompt == n && $0.nGen == 0 && $0.nDepth == 0 }), let r = fromEmpty.rate?.mean {
            return (r, nil)
        }
        let atDepth = cells.filter { $0.nGen == 0 && $0.nPrompt > 0 && $0.nDepth == n }
        guard let size = Curve.mostCommon(atDepth.map(\.nPrompt)),
              let c = atDepth.first(where: { $0.nPrompt == size }), let r = c.rate?.mean else { return nil }
        return (r, c.test)
    }

    /// Generation at depth `depth`, or (nil) at the smallest depth measured.
    static func generation(_ cells: [CellResult], at depth: Int?) -> (rate: Double, label: String?)? {
        let tg = cells.filter { $0.nPrompt == 0 && $0.nGen > 0 }
        guard let size = Curve.mostCommon(tg.map(\.nGen)) else { return nil }
        let sized = tg.filter { $0.nGen == size }
        let chosen = depth.map { d in sized.first { $0.nDepth == d } } ?? sized.min { $0.nDepth < $1.nDepth }
        guard let c = chosen, let r = c.rate?.mean else { return nil }
        return (r, depth == nil && c.nDepth > 0 ? c.test : nil)
    }
}
