import Foundation

/// ctxbench's engine and llama.cpp side by side: within each run that holds both, every llama.cpp
/// cell paired with ctxbench's cell of the same model, weights, cache, threads, NUMA policy, test
/// and depth (its computed fill when it ran both fills, as llama.cpp's depth is computed too), with
/// the ratio of the medians. Both sides come from one run, measured on one machine in one sweep.
enum EngineComparison {
    static func make(_ runs: [LoadedRun]) -> ReportTable {
        var table = ReportTable(name: "engines", title: "ctxbench and llama.cpp side by side",
                                header: ["platform", "model", "weights", "cache", "threads", "test", "ctxbench fill",
                                         "ctxbench median t/s", "engine", "engine median t/s", "ctxbench / engine",
                                         "ctxbench of its limit", "standing"],
                                numeric: [4, 7, 9, 10, 11])
        struct Key: Hashable { var model, weights, cache, numa, test: String; var threads: Int }
        var logRatios: [Double] = []
        for run in runs where run.metadata.source == nil {
            let ok = run.cells.filter { $0.status == .ok && $0.rate != nil }
            func key(_ c: CellResult) -> Key {
                Key(model: c.model, weights: c.weightType, cache: c.cacheType, numa: c.numa, test: c.test, threads: c.threads)
            }
            var own: [Key: CellResult] = [:]
            for c in ok where (c.engine ?? Suite.Engine.ctxbench.label) == Suite.Engine.ctxbench.label {
                if own[key(c)] == nil || c.fill == FillMode.computed.rawValue { own[key(c)] = c }
            }
            for other in ok where (other.engine ?? Suite.Engine.ctxbench.label) != Suite.Engine.ctxbench.label {
                guard let mine = own[key(other)], let a = mine.rate?.median, let b = other.rate?.median, b > 0 else { continue }
                logRatios.append(log(a / b))
                let limit = limitFraction(mine)
                table.rows.append([run.metadata.platformLabel, other.model, other.weightType, other.cacheType, String(other.threads),
                                   other.test, mine.fill, Format.rate(a), other.engine ?? "", Format.rate(b), String(format: "%.3f", a / b),
                                   limit.map { Format.percent($0.fraction, signed: false) + " " + $0.of } ?? "-",
                                   standing(ratio: a / b, limit: limit?.fraction)])
            }
        }
        if !logRatios.isEmpty {
            table.notes.append("ctxbench of its limit: a prefill test's FLOPs per second against the FMA peak, a generation "
                               + "test's bytes per second against the DRAM read bandwidth, both probed beside the cell's "
                               + "repetitions in the same run (the cost model's counts as the engine executes them). "
                               + "Standing: \"ahead\" at >= \(aheadRatio)x the other engine, \"at limit\" within "
                               + "\(Int(((1 - limitFraction) * 100).rounded()))% of the limit, else \"behind\".")
            table.notes.append(String(format: "Geometric mean of ctxbench / engine over %d cells: %.3f. Above 1, ctxbench is faster. "
                                      + "Medians of each cell's repetitions; both engines ran in the same sweep.",
                                      logRatios.count, exp(logRatios.reduce(0, +) / Double(logRatios.count))))
        }
        return table
    }

    /// The targets a cell is held to: this far ahead of the other engine, or this close to the
    /// machine's limit.
    static let aheadRatio = 1.25
    static let limitFraction = 0.9

    /// The cell's fraction of the limit that bounds its test: FMA peak for a prefill, DRAM read
    /// bandwidth for a generation; nil for pp+tg tests or when the run did not probe.
    static func limitFraction(_ cell: CellResult) -> (fraction: Double, of: String)? {
        if cell.nGen == 0, let f = cell.peakFraction { return (f, "FMA") }
        if cell.nPrompt == 0, let f = cell.bandwidthFraction { return (f, "DRAM") }
        return nil
    }

    static func standing(ratio: Double, limit: Double?) -> String {
        if ratio >= aheadRatio { return "ahead" }
        if let limit, limit >= limitFraction { return "at limit" }
        return "behind"
    }
}
