import Foundation

/// Reads llama-batched-bench output: its Markdown table (with the `main: n_kv_max = ...` line
/// before it), its JSONL, and the CSV form of published tables (one row per platform and PP, as in
/// results/reference/). Each row becomes up to two cells in llama-bench's terms:
///   `pp{PP}` at depth 0, rate S_PP = PP / T_PP (prefill from an empty context), and
///   `tg{TG} @ d{PP}`, rate S_TG = TG / T_TG (decode right after that prefill).
/// The published rates are kept exactly as printed (not recomputed from the times).
public enum BatchedBenchImport {
    public struct Defaults: Sendable {
        public var model = "unknown"
        public var weightType = "unknown"
        public var cacheType = "f16"
        public init() {}
    }

    public static func parse(_ text: String, file: String, defaults: Defaults = Defaults()) throws -> [ImportedMeasurement] {
        switch try ImportFormat.detect(text, file: file) {
        case .csv: return try fromRows(ImportFormat.csvRows(text, file: file), settings: [:], file: file, defaults: defaults)
        case .json: return try fromRows(ImportFormat.jsonRows(text, file: file), settings: [:], file: file, defaults: defaults)
        case .markdown:
            let (rows, other) = ImportFormat.markdownRows(text, file: file)
            return try fromRows(rows, settings: settings(other), file: file, defaults: defaults)
        }
    }

    /// "main: n_kv_max = 270336, n_batch = 2048, n_ubatch = 512, ..., n_threads = 8, ..." -> pairs.
    static func settings(_ lines: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for line in lines where line.contains("n_kv_max") || line.contains("n_threads") {
            let body = line.hasPrefix("main:") ? String(line.dropFirst(5)) : line
            for pair in body.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2 { out[kv[0]] = kv[1] }
            }
        }
        return out
    }

    static func fromRows(_ rows: [NamedRow], settings: [String: String], file: String, defaults: Defaults) throws -> [ImportedMeasurement] {
        guard let first = rows.first else { throw ImportError(file, "no rows") }
        guard first.string("PP", "pp") != nil, first.fields.keys.contains(where: { ["S_PP t/s", "speed_pp", "s_pp_tps"].contains($0) }) else {
            throw ImportError(file, "not llama-batched-bench output: expected columns PP and S_PP t/s (or pp and speed_pp); got \(first.fields.keys.sorted().joined(separator: ", "))")
        }
        let threads = Int(settings["n_threads"] ?? "") ?? 0
        var out: [ImportedMeasurement] = []
        for row in rows {
            let pp = try row.int("PP", "pp"), tg = try row.int("TG", "tg", fallback: 0)
            let b = try row.int("B", "pl", "b", fallback: 1)
            var base = ImportedMeasurement(
                platform: row.string("platform"), backend: row.string("backend"),
                model: row.string("model") ?? defaults.model, weightType: row.string("quant", "type") ?? defaults.weightType,
                cacheType: row.string("kv_type", "type_k") ?? defaults.cacheType,
                threads: try row.int("n_threads", fallback: threads), nPrompt: 0, nGen: 0, nDepth: 0, sequences: b,
                samplesNs: [], samplesTs: [])
            if pp > 0, let speed = try row.number("S_PP t/s", "speed_pp", "s_pp_tps") {
                var m = base
                m.nPrompt = pp
                m.samplesTs = [speed]
                m.samplesNs = [(try row.number("T_PP s", "t_pp", "t_pp_s") ?? .nan) * 1e9]
                if !speed.isFinite { m.error = "the source reports S_PP = \(row.string("S_PP t/s", "speed_pp", "s_pp_tps") ?? "")" }
                out.append(m)
            }
            if tg > 0, let speed = try row.number("S_TG t/s", "speed_tg", "s_tg_tps") {
                base.nGen = tg
                base.nDepth = pp
                base.samplesTs = [speed]
                base.samplesNs = [(try row.number("T_TG s", "t_tg", "t_tg_s") ?? .nan) * 1e9]
                if !speed.isFinite { base.error = "the source reports S_TG = \(row.string("S_TG t/s", "speed_tg", "s_tg_tps") ?? "")" }
                out.append(base)
            }
        }
        guard !out.isEmpty else { throw ImportError(file, "no row has a prefill or generation rate") }
        return out
    }
}
