import Foundation

/// Quantization levels side by side: for each platform, model, cache, threads and test, every weight
/// type's rate relative to f16 (or bf16, then the widest type present), with bytes per token and
/// efficiency against the run's calibrated limits.
enum QuantizationReport {
    static let reference = ["f16", "F16", "bf16", "BF16", "f32", "F32", "q8_0", "Q8_0"]

    static func make(_ runs: [LoadedRun]) -> ReportTable {
        var table = ReportTable(name: "quantization", title: "Quantization levels",
                                header: ["platform", "model", "cache", "threads", "test", "weights", "t/s", "vs reference",
                                         "bytes/token", "GB/s", "of bandwidth", "of FMA peak"],
                                numeric: [3, 6, 7, 8, 9, 10, 11])
        struct Key: Hashable { var platform, model, cache, test: String; var threads: Int }
        var order: [Key] = []
        var groups: [Key: [CellResult]] = [:]
        for run in runs {
            for c in run.cells where c.status == .ok && c.rate != nil {
                let k = Key(platform: run.metadata.platformLabel, model: c.model, cache: c.cacheType, test: c.test, threads: c.threads)
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
                table.rows.append([k.platform, k.model, k.cache, String(k.threads), k.test, c.weightType, Format.rate(c.rate?.mean),
                                   refRate.map { c.weightType == ref ? "1.00 (\(ref!))" : String(format: "%.2fx", c.rate!.mean / $0) } ?? "-",
                                   c.bytesPerToken.map { String(format: "%.0f", $0) } ?? "-", Format.number(c.achievedGBps, 2),
                                   Format.percent(c.bandwidthFraction, signed: false), Format.percent(c.peakFraction, signed: false)])
            }
        }
        table.notes.append("Only groups with more than one weight type appear. Reference: f16, else bf16, f32, q8_0.")
        return table
    }
}
