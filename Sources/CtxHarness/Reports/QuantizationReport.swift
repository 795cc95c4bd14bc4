import Foundation

/// Quantization levels side by side: for each platform, model, cache, threads and test, every weight
/// type's rate relative to f16 (or bf16, then the widest type present), with bytes per token and
/// efficiency against the run's calibrated limits.
enum QuantizationReport {
    static let reference = ["f16", "F16", "bf16", "BF16", "f32", "F32", "q8_0", "Q8_0"]

    static func make(_ runs: [LoadedRun]) -> ReportTable {
        var table = ReportTable(name: "quantization", title: "Quantization levels",
                                header: ["series (all but weights)", "test", "weights", "t/s", "vs reference",
                                         "bytes/token", "GB/s", "of bandwidth", "of FMA peak"],
                                numeric: [3, 4, 5, 6, 7, 8])
        // Every dimension but the weight type: the series (weights blanked) and the test.
        struct Key: Hashable { var series: Series; var test: String }
        var order: [Key] = []
        var groups: [Key: [CellResult]] = [:]
        for run in runs {
            for c in run.cells where c.status == .ok && c.rate != nil {
                var series = Series.of(c, in: run)
                series.weightType = ""
                let k = Key(series: series, test: c.test)
                if groups[k] == nil { order.append(k) }
                groups[k, default: []].append(c)
            }
        }
        for k in order {
            let cells = groups[k]!
            guard Set(cells.map(\.weightType)).count > 1 else { continue }
            let ref = reference.first { name in cells.contains { $0.weightType == name } }
            let refRate = cells.first { $0.weightType == ref }?.rate?.mean
            for c in cells {
                table.rows.append([k.series.label, k.test, c.weightType, Format.rate(c.rate?.mean),
                                   refRate.map { c.weightType == ref ? "1.00 (\(ref!))" : String(format: "%.2fx", c.rate!.mean / $0) } ?? "-",
                                   c.bytesPerToken.map { String(format: "%.0f", $0) } ?? "-", Format.number(c.achievedGBps, 2),
                                   Format.percent(c.bandwidthFraction, signed: false), Format.percent(c.peakFraction, signed: false)])
            }
        }
        table.notes.append("Only groups with more than one weight type appear. Reference: f16, else bf16, f32, q8_0.")
        return table
    }
}
