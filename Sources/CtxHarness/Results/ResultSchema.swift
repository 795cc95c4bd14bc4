import Foundation

/// The outcome of one cell: what ran, its statistics and efficiency, or why it did not run.
/// One JSON line per cell in cells.jsonl (the record resume reads) and one row in cells.csv.
public struct CellResult: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case ok
        /// Not run: it cannot fit in available memory, or the setup failed to build.
        case refused
        /// Ran, but produced NaN or Inf logits.
        case nan
        /// Threw an error while running.
        case failed
    }

    public var cellID: String
    public var cellIndex: Int
    public var status: Status
    public var error: String?
    public var model: String
    public var preset: String
    public var layers: Int
    public var layersTotal: Int
    public var weightType: String
    public var cacheType: String
    public var threads: Int
    public var numa: String
    public var fill: String
    public var test: String
    public var nPrompt: Int
    public var nGen: Int
    public var nDepth: Int
    public var warmup: Int
    /// Per repetition: wall nanoseconds of the whole test, and its rate tokens * 1e9 / ns.
    public var samplesNs: [Double]
    public var samplesTs: [Double]
    public var rate: SampleStatistics?
    public var decodeP50Ms: Double?
    public var decodeP99Ms: Double?
    public var bytesPerToken: Double?
    public var achievedGBps: Double?
    public var bandwidthFraction: Double?
    public var flopsPerRepetition: Double?
    public var achievedGFLOPs: Double?
    public var peakFraction: Double?
    public var projectedTs: Double?
    public var fillSeconds: Double?
    /// The depth the fill started from, when the engine says (llama-batched-bench: 0, every fill is
    /// from an empty context, so depth / fillSeconds is S_PP at the depth); nil: the previous depth
    /// of the setup's ladder.
    public var fillFromDepth: Int? = nil
    /// The setup's weights: seconds to generate them (synthetic) or to map and check them (a GGUF
    /// file), and how many of a file's tensors had to be converted on load (the rest are used in place).
    public var weightsSeconds: Double? = nil
    public var weightsConverted: Int? = nil
    /// Bytes of the quantized and f16 matrices' copies regrouped for decode (`ModelWeights.regroupForDecode`,
    /// AVX-512 VNNI builds); nil where none were made.
    public var decodeRegroupedBytes: Int? = nil
    public var finishedAt: String
    /// The engine that ran the cell, as the suite labels it ("llama.cpp"); nil: ctxbench's own.
    public var engine: String? = nil
    /// Per-op times of the timed repetitions (empty when profiling is off or the cell did not run).
    public var ops: [OpRow]
    /// DRAM read bandwidth and FMA peak probed before each session's warmup and after its last
    /// repetition (`LimitProbe`); `gate --normalize efficiency` divides the cell's samples by their median.
    public var probeReadGBps: [Double]? = nil
    public var probeFMAGFLOPs: [Double]? = nil

    public var meanNs: Double? { samplesNs.isEmpty ? nil : samplesNs.reduce(0, +) / Double(samplesNs.count) }
}

/// One op's time in one cell (ops.csv).
public struct OpRow: Codable, Sendable, Equatable {
    public var cellID: String
    public var op: String
    public var family: String
    public var totalNs: Double
    public var calls: Int
    public var share: Double
    public var nsPerToken: Double
}

/// The result columns, each defined once: name, unit, meaning and how to read it from a result.
/// The README's column tables are `markdownReference()` verbatim (a test checks).
public enum ResultSchema {
    public static let version = 1

    public struct Column: Sendable {
        public let name: String
        public let unit: String
        public let meaning: String
        public let value: @Sendable (CellResult) -> String
    }

    static func number(_ v: Double?, _ digits: Int = 3) -> String {
        guard let v, v.isFinite else { return "" }
        return String(format: "%.\(digits)f", v)
    }

    public static let cellColumns: [Column] = [
        Column(name: "cell_id", unit: "", meaning: "model/weights/cache/threads/numa/fill/test@depth (imports: settings that differ appended): unique within a run") { $0.cellID },
        Column(name: "engine", unit: "", meaning: "who ran the cell: ctxbench, or a llama.cpp engine of the suite (its label); imports: llama.cpp") { $0.engine ?? "ctxbench" },
        Column(name: "status", unit: "", meaning: "ok, refused (not run: memory or setup), nan (non-finite logits), failed (error)") { $0.status.rawValue },
        Column(name: "error", unit: "", meaning: "why the cell is not ok") { $0.error ?? "" },
        Column(name: "model", unit: "", meaning: "model label: preset, +set when fields are overridden, [n/N] for a layer slice") { $0.model },
        Column(name: "preset", unit: "", meaning: "model preset") { $0.preset },
        Column(name: "layers", unit: "", meaning: "layers run") { String($0.layers) },
        Column(name: "layers_total", unit: "", meaning: "layers of the full model") { String($0.layersTotal) },
        Column(name: "weight_type", unit: "", meaning: "weight type or recipe (q4_K_M)") { $0.weightType },
        Column(name: "cache_type", unit: "", meaning: "KV cache type") { $0.cacheType },
        Column(name: "threads", unit: "", meaning: "threads") { String($0.threads) },
        Column(name: "numa", unit: "", meaning: "NUMA policy") { $0.numa },
        Column(name: "fill", unit: "", meaning: "how the depth was reached: synthetic or computed") { $0.fill },
        Column(name: "test", unit: "", meaning: "llama-bench label: pp512, tg32, pp512+tg32, with ' @ dD' at depth D > 0") { $0.test },
        Column(name: "n_prompt", unit: "tokens", meaning: "prompt tokens per repetition") { String($0.nPrompt) },
        Column(name: "n_gen", unit: "tokens", meaning: "generated tokens per repetition") { String($0.nGen) },
        Column(name: "n_depth", unit: "tokens", meaning: "context already in the caches when the test starts") { String($0.nDepth) },
        Column(name: "repetitions", unit: "", meaning: "timed repetitions") { String($0.samplesNs.count) },
        Column(name: "warmup", unit: "", meaning: "untimed warmup runs") { String($0.warmup) },
        Column(name: "avg_ns", unit: "ns", meaning: "mean wall time of a repetition") { number($0.meanNs, 0) },
        Column(name: "avg_ts", unit: "tokens/s", meaning: "mean over repetitions of tokens * 1e9 / ns") { number($0.rate?.mean) },
        Column(name: "stddev_ts", unit: "tokens/s", meaning: "sample standard deviation of the rate (two-pass)") { number($0.rate?.standardDeviation) },
        Column(name: "median_ts", unit: "tokens/s", meaning: "median rate") { number($0.rate?.median) },
        Column(name: "min_ts", unit: "tokens/s", meaning: "slowest repetition's rate") { number($0.rate?.min) },
        Column(name: "max_ts", unit: "tokens/s", meaning: "fastest repetition's rate") { number($0.rate?.max) },
        Column(name: "mad_ts", unit: "tokens/s", meaning: "median absolute deviation of the rate") { number($0.rate?.mad) },
        Column(name: "cv", unit: "", meaning: "coefficient of variation of the rate (sd / mean)") { number($0.rate?.coefficientOfVariation, 4) },
        Column(name: "ci95_ts", unit: "tokens/s", meaning: "half-width of the 95% confidence interval of the mean rate (Student's t)") { number($0.rate?.confidenceHalfWidth95) },
        Column(name: "outliers", unit: "", meaning: "repetitions with modified z-score above 3.5 (flagged, kept)") { $0.rate.map { String($0.outliers) } ?? "" },
        Column(name: "decode_p50_ms", unit: "ms", meaning: "median single-token decode latency over all repetitions") { number($0.decodeP50Ms) },
        Column(name: "decode_p99_ms", unit: "ms", meaning: "99th percentile single-token decode latency") { number($0.decodeP99Ms) },
        Column(name: "bytes_per_token", unit: "bytes", meaning: "estimated bytes read per token: weights (experts a batch touches) plus cache and state") { number($0.bytesPerToken, 0) },
        Column(name: "achieved_gbps", unit: "GB/s", meaning: "bytes_per_token * mean rate / 1e9") { number($0.achievedGBps) },
        Column(name: "bandwidth_fraction", unit: "", meaning: "achieved_gbps / DRAM read bandwidth probed around the cell (probe_read_gbps; else the run's calibration)") { number($0.bandwidthFraction, 4) },
        Column(name: "flops", unit: "FLOP", meaning: "floating-point operations per repetition (active weights, attention, KDA recurrence)") { number($0.flopsPerRepetition, 0) },
        Column(name: "achieved_gflops", unit: "GFLOP/s", meaning: "flops / mean time") { number($0.achievedGFLOPs) },
        Column(name: "peak_fraction", unit: "", meaning: "achieved_gflops / FMA peak probed around the cell (probe_fma_gflops; else the run's calibration)") { number($0.peakFraction, 4) },
        Column(name: "probe_read_gbps", unit: "GB/s", meaning: "median DRAM read bandwidth probed before and after the cell's repetitions (empty without calibration)") { number($0.probeReadGBps.map { SampleStatistics.median($0) }, 2) },
        Column(name: "probe_fma_gflops", unit: "GFLOP/s", meaning: "median FMA peak probed before, between and after the cell's repetitions (llama.cpp cells: before and after each llama-bench process; empty without calibration)") { number($0.probeFMAGFLOPs.map { SampleStatistics.median($0) }, 1) },
        Column(name: "projected_ts", unit: "tokens/s", meaning: "PROJECTED full-model rate from a layer slice (empty when the full model ran)") { number($0.projectedTs) },
        Column(name: "fill_s", unit: "s", meaning: "time to reach this depth from the previous one (0 when reused); from fill_from") { number($0.fillSeconds) },
        Column(name: "fill_from", unit: "tokens", meaning: "depth the fill started from when the engine says (llama-batched-bench: 0, so n_depth / fill_s is S_PP); empty: the previous depth") { $0.fillFromDepth.map(String.init) ?? "" },
        Column(name: "weights_s", unit: "s", meaning: "the setup's weights: seconds to generate them (synthetic) or to map and check them (a GGUF file)") { number($0.weightsSeconds, 3) },
        Column(name: "weights_converted", unit: "", meaning: "tensors of a GGUF file converted on load (small ones the engine keeps in f32); the rest are used in place") { $0.weightsConverted.map(String.init) ?? "" },
        Column(name: "finished_at", unit: "UTC", meaning: "when the cell finished (ISO 8601)") { $0.finishedAt },
    ]

    public static let opColumns: [(name: String, unit: String, meaning: String)] = [
        ("cell_id", "", "the cell (cells.csv)"),
        ("op", "", "op name, e.g. kda.recurrence, mla.attention, moe.experts"),
        ("family", "", "routing, experts, mla, attention, gqa, kda, other"),
        ("total_ns", "ns", "time in the op over all timed repetitions"),
        ("calls", "", "calls over all timed repetitions"),
        ("share", "", "total_ns / total wall time of the repetitions"),
        ("ns_per_token", "ns", "total_ns / tokens processed in the repetitions"),
    ]

    /// ladder.csv: computed-fill segments of the depth ladder, per setup.
    public static let ladderColumns: [(name: String, unit: String, meaning: String)] = [
        ("setup", "", "[engine/]model/weights/cache/threads/numa (the engine when not ctxbench)"),
        ("depth_from", "tokens", "depth the segment starts at"),
        ("depth_to", "tokens", "depth the segment ends at"),
        ("segment_s", "s", "wall time of the prefill from depth_from to depth_to (measured once)"),
        ("segment_ts", "tokens/s", "(depth_to - depth_from) / segment_s"),
        ("cumulative_s", "s", "time to fill depth_to tokens from empty"),
        ("s_pp_from_empty_ts", "tokens/s", "depth_to / cumulative_s: llama-batched-bench's S_PP at N = depth_to"),
    ]

    /// The reference the README carries: one Markdown table per file.
    public static func markdownReference() -> String {
        func table(_ file: String, _ columns: [(name: String, unit: String, meaning: String)]) -> String {
            (["`\(file)`:", "", "| column | unit | meaning |", "|---|---|---|"]
                + columns.map { "| `\($0.name)` | \($0.unit) | \($0.meaning.replacingOccurrences(of: "|", with: "\\|")) |" })
                .joined(separator: "\n")
        }
        return [table("cells.csv", cellColumns.map { ($0.name, $0.unit, $0.meaning) }),
                table("ops.csv", opColumns), table("ladder.csv", ladderColumns)].joined(separator: "\n\n") + "\n"
    }

    public static func ladderCSV(_ rows: [[String]]) -> String {
        CSVCodec.table(header: ladderColumns.map(\.name), rows: rows)
    }

    public static func cellsCSV(_ results: [CellResult]) -> String {
        CSVCodec.table(header: cellColumns.map(\.name), rows: results.map { r in cellColumns.map { $0.value(r) } })
    }

    public static func opsCSV(_ rows: [OpRow]) -> String {
        CSVCodec.table(header: opColumns.map(\.name), rows: rows.map {
            [$0.cellID, $0.op, $0.family, number($0.totalNs, 0), String($0.calls), number($0.share, 4), number($0.nsPerToken, 1)]
        })
    }

    /// llama-bench-style Markdown: one row per cell, mean ± sd, median.
    public static func summaryMarkdown(_ results: [CellResult], title: String) -> String {
        // An engine column when another engine than ctxbench's ran cells.
        let engines = results.contains { ($0.engine ?? "ctxbench") != "ctxbench" }
        var lines = ["# \(title)", "",
                     (engines ? "| engine " : "") + "| model | weights | cache | threads | test | t/s | median t/s | status |",
                     (engines ? "|---" : "") + "|---|---|---|--:|---|--:|--:|---|"]
        for r in results {
            let rate = r.rate.map { String(format: "%.2f ± %.2f", $0.mean, $0.standardDeviation) } ?? "-"
            let median = r.rate.map { String(format: "%.2f", $0.median) } ?? "-"
            let status = r.status == .ok ? "ok" : "\(r.status.rawValue): \(r.error ?? "")"
            lines.append((engines ? "| \(r.engine ?? "ctxbench") " : "") + "| \(r.model) | \(r.weightType) | \(r.cacheType) | \(r.threads) | \(r.test) | \(rate) | \(median) | \(status) |")
        }
        let projected = results.filter { $0.projectedTs != nil }
        if !projected.isEmpty {
            lines += ["", "PROJECTED full-model rates from layer slices (not measured):", "",
                      "| model | weights | test | projected t/s |", "|---|---|---|--:|"]
            for r in projected { lines.append(String(format: "| %@ | %@ | %@ | %.2f |", r.model, r.weightType, r.test, r.projectedTs!)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
