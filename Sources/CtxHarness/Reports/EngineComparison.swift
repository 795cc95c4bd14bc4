import Foundation

/// ctxbench's engine and llama.cpp side by side: within each run that holds both, every llama.cpp
/// cell paired with ctxbench's cell of the same model, weights, cache, threads, NUMA policy, test
/// and depth (its computed fill when it ran both fills, as llama.cpp's depth is computed too), with
/// the ratio of the medians. Both sides come from one run, measured on one machine in one sweep.
enum EngineComparison {
    static func make(_ runs: [LoadedRun]) -> ReportTable {
        var table = ReportTable(name: "engines", title: "ctxbench and llama.cpp side by side",
                                header: ["platform", "model", "weights", "cache", "threads", "test", "ctxbench fill",
                                         "ctxbench median t/s", "engine", "engine median t/s", "ctxbench / engine"],
                                numeric: [4, 7, 9, 10])
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
                table.rows.append([run.metadata.platformLabel, other.model, other.weightType, other.cacheType, String(other.threads),
                                   other.test, mine.fill, Format.rate(a), other.engine ?? "", Format.rate(b), String(format: "%.3f", a / b)])
            }
        }
        if !logRatios.isEmpty {
            table.notes.append(String(format: "Geometric mean of ctxbench / engine over %d cells: %.3f. Above 1, ctxbench is faster. "
                                      + "Medians of each cell's repetitions; both engines ran in the same sweep.",
                                      logRatios.count, exp(logRatios.reduce(0, +) / Double(logRatios.count))))
        }
        return table
    }
}
