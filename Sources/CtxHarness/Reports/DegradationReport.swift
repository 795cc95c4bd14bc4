import Foundation

/// Long-context degradation: each series' prefill and generation rate at every context length, the
/// change from the shortest, and a fitted cost model, seconds per token = a + b * context, with its
/// fit quality and the rate it predicts at the extended context (labelled as a prediction when that
/// context was not measured).
enum DegradationReport {
    static func make(_ groups: [(series: Series, cells: [CellResult], run: LoadedRun)], context: Int) -> (curves: ReportTable, fits: ReportTable) {
        var curves = ReportTable(name: "degradation", title: "Degradation with context",
                                 header: ["series", "test", "context", "t/s", "change vs shortest"], numeric: [2, 3, 4])
        var fits = ReportTable(name: "cost-model", title: "Cost model: seconds per token = a + b × context",
                               header: ["series", "test", "points", "a (ms/token)", "b (µs/token per 1K context)", "R²",
                                        "\(Format.tokens(context)) t/s", "at \(Format.tokens(context))"],
                               numeric: [2, 3, 4, 5, 6])
        for g in groups {
            for kind in [Curve.Kind.prefill, .generation] {
                guard let curve = Curve.of(kind, cells: g.cells), let first = curve.points.first else { continue }
                for p in curve.points {
                    curves.rows.append([g.series.label, curve.meaning, String(p.context), Format.rate(p.rate),
                                        p.context == first.context ? "-" : Format.percent(p.rate / first.rate - 1)])
                }
                guard let fit = LinearFit(x: curve.points.map { Double($0.context) }, y: curve.points.map { 1 / $0.rate }) else { continue }
                let measured = curve.rate(at: context)
                let predicted = 1 / fit.predict(Double(context))
                let maxContext = curve.points.last!.context
                let status = measured != nil ? "measured"
                    : context > maxContext ? "predicted (extrapolated beyond \(Format.tokens(maxContext)))" : "predicted (interpolated)"
                fits.rows.append([g.series.label, curve.meaning, String(fit.count), Format.number(fit.intercept * 1e3, 4),
                                  Format.number(fit.slope * 1e6 * 1024, 4), Format.number(fit.rSquared, 4),
                                  Format.rate(measured ?? (predicted > 0 ? predicted : nil)), status])
            }
        }
        curves.notes.append("`S_PP(N)` rows come from llama-batched-bench (prefill of N tokens from an empty context); "
            + "`ppN @ d` and `tgN @ d` rows from ctxbench's depth ladder or llama-bench's `-d` (N more tokens into a context of that depth).")
        fits.notes.append("Least squares on 1 / rate. R² near 1 means the cost grows linearly with context "
            + "(attention reading the whole cache); a flat b means it does not (KDA's fixed state, a sliding window).")
        return (curves, fits)
    }
}
