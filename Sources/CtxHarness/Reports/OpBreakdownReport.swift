import CtxEngine
import Foundation

/// Where the time goes at each depth: each op family's share of a cell's time, per series and test,
/// so attention and KDA recurrence can be seen growing with depth while routing and experts stay flat.
enum OpBreakdownReport {
    static let families = Op.Family.allCases.map(\.rawValue)

    struct Rows {
        var table: ReportTable
        /// For charts: series label + test kind -> (depth, family -> share).
        var shares: [(title: String, points: [(depth: Int, share: [String: Double])])]
    }

    static func make(_ groups: [(series: Series, cells: [CellResult], run: LoadedRun)]) -> Rows {
        var table = ReportTable(name: "ops", title: "Per-op breakdown: share of time by op family",
                                header: ["series", "test", "depth"] + families + ["untimed"], numeric: Set(2..<(4 + families.count)))
        var shares: [(String, [(Int, [String: Double])])] = []
        for g in groups {
            for kind in [Curve.Kind.prefill, .generation] {
                let cells = g.cells.filter { !$0.ops.isEmpty && (kind == .prefill ? $0.nGen == 0 : $0.nPrompt == 0) }
                guard let size = Curve.mostCommon(cells.map { $0.nPrompt + $0.nGen }) else { continue }
                var points: [(Int, [String: Double])] = []
                for c in cells.filter({ $0.nPrompt + $0.nGen == size }).sorted(by: { $0.nDepth < $1.nDepth }) {
                    var byFamily: [String: Double] = [:]
                    for op in c.ops { byFamily[op.family, default: 0] += op.share }
                    let timed = byFamily.values.reduce(0, +)
                    table.rows.append([g.series.label, kind == .prefill ? "pp\(size)" : "tg\(size)", String(c.nDepth)]
                                      + families.map { Format.percent(byFamily[$0], signed: false) }
                                      + [Format.percent(max(0, 1 - timed), signed: false)])
                    points.append((c.nDepth, byFamily))
                }
                shares.append(("\(g.series.label) · \(kind == .prefill ? "pp\(size)" : "tg\(size)")", points))
            }
        }
        table.notes.append("Families: routing (router matmul, scoring, top-k, dispatch), experts (routed and shared), "
            + "mla (projections, absorption, value up-projection), attention (over the cache), gqa (Step-3.5 projections), "
            + "kda (projections, conv, gate, recurrence, output), other (norms, embedding, LM head, residuals). "
            + "Untimed: wall time outside every op timer.")
        return Rows(table: table, shares: shares)
    }
}
