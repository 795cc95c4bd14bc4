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
            // One table per invocation (several may be appended), each after its settings line and
            // followed by a blank line: a table that is not was cut short.
            var out: [ImportedMeasurement] = []
            for table in try ImportFormat.markdownTables(text, file: file) where !table.rows.isEmpty {
                guard table.closed else {
                    throw ImportError(file, "line \(table.rows.last!.line): the table ends without the blank line llama-batched-bench prints after it: "
                                      + "the file looks truncated")
                }
                out += try fromRows(table.rows, settings: settings(table.before), file: file, defaults: defaults)
            }
            guard !out.isEmpty else { throw ImportError(file, "no Markdown table rows") }
            return out
        }
    }

    /// "main: n_kv_max = 270336, n_batch = 2048, n_ubatch = 512, ..., n_threads = 8, ..." -> pairs
    /// (newer versions start the line with `llama_batched_bench:`).
    static func settings(_ lines: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for line in lines where line.contains("n_kv_max") || line.contains("n_threads") {
            let body = line.firstIndex(of: ":").map { String(line[line.index(after: $0)...]) } ?? line
            for pair in body.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2 { out[kv[0]] = kv[1] }
            }
        }
        return out
    }

    /// Columns that are the measurement or the model, not settings of the invocation.
    static let notSettings: Set<String> = [
        "PP", "TG", "B", "N_KV", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s", "T s", "S t/s",
        "pp", "tg", "pl", "n_kv", "t_pp", "speed_pp", "t_tg", "speed_tg", "t", "speed", "b", "s_pp_tps", "s_tg_tps", "t_pp_s", "t_tg_s",
        "platform", "backend", "model", "quant", "type", "kv_type", "type_k", "n_threads", "source", "n_kv_max",
    ]

    static func fromRows(_ rows: [NamedRow], settings: [String: String], file: String, defaults: Defaults) throws -> [ImportedMeasurement] {
        guard let first = rows.first else { throw ImportError(file, "no rows") }
        guard first.string("PP", "pp") != nil, first.fields.keys.contains(where: { ["S_PP t/s", "speed_pp", "s_pp_tps"].contains($0) }) else {
            throw ImportError(file, "not llama-batched-bench output: expected columns PP and S_PP t/s (or pp and speed_pp); got \(clipped(first.fields.keys.sorted().joined(separator: ", "), 300))")
        }
        let threads = Int(settings["n_threads"] ?? "") ?? 0
        var out: [ImportedMeasurement] = []
        for row in rows {
            let pp = try row.int("PP", "pp"), tg = try row.int("TG", "tg", fallback: 0)
            let b = try row.int("B", "pl", "b", fallback: 1, range: 1...(1 << 20))
            if pp == 0 && tg == 0 { throw ImportError(file, "line \(row.line): PP and TG are both 0: not a test") }
            var base = ImportedMeasurement(
                platform: row.string("platform"), backend: row.string("backend"),
                model: row.string("model") ?? defaults.model, weightType: row.string("quant", "type") ?? defaults.weightType,
                cacheType: row.string("kv_type", "type_k") ?? defaults.cacheType,
                threads: try row.int("n_threads", fallback: threads), nPrompt: 0, nGen: 0, nDepth: 0, sequences: b,
                samplesNs: [], samplesTs: [])
            var invocation = settings.filter { !notSettings.contains($0.key) }
            for (k, v) in row.fields where !notSettings.contains(k) { invocation[k] = v }
            base.settings = invocation
            // PP = 0 rows have no prefill (llama-batched-bench prints S_PP as -nan there).
            if pp > 0, let speed = try row.rate("S_PP t/s", "speed_pp", "s_pp_tps") {
                var m = base
                m.nPrompt = pp
                m.samplesTs = [speed]
                m.samplesNs = [(try row.number("T_PP s", "t_pp", "t_pp_s") ?? .nan) * 1e9]
                if !speed.isFinite { m.error = "the source reports S_PP = \(row.string("S_PP t/s", "speed_pp", "s_pp_tps") ?? "")" }
                out.append(m)
            }
            if tg > 0, let speed = try row.rate("S_TG t/s", "speed_tg", "s_tg_tps") {
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
