import Foundation

/// Reads llama-bench output: `-o csv`, `-o json`, `-o jsonl` and `-o md`. Fields are read by name
/// (the set changes between versions; n_depth is absent before depth support and reads as 0).
/// JSON and JSONL carry every repetition (samples_ns, samples_ts); CSV and Markdown only the mean
/// and standard deviation, so their cells have one sample and `gate` calls them inconclusive.
public enum LlamaBenchImport {
    public static func parse(_ text: String, file: String) throws -> [ImportedMeasurement] {
        switch try ImportFormat.detect(text, file: file) {
        case .csv: return try fromFields(ImportFormat.csvRows(text, file: file), file: file)
        case .json: return try fromFields(ImportFormat.jsonRows(text, file: file), file: file)
        case .markdown: return try fromMarkdown(text, file: file)
        }
    }

    static func fromFields(_ rows: [NamedRow], file: String) throws -> [ImportedMeasurement] {
        guard let first = rows.first else { throw ImportError(file, "no results in the file") }
        for required in ["n_prompt", "n_gen", "avg_ts"] where first.fields[required] == nil {
            throw ImportError(file, "not llama-bench output: no field '\(required)' (fields: \(first.fields.keys.sorted().joined(separator: ", ")))")
        }
        return try rows.map { row in
            let modelType = row.string("model_type") ?? row.string("model_filename") ?? "unknown"
            let avgTs = try row.number("avg_ts") ?? .nan
            let avgNs = try row.number("avg_ns") ?? .nan
            var samplesTs = decodeArray(row.string("samples_ts"))
            var samplesNs = decodeArray(row.string("samples_ns"))
            if samplesTs.isEmpty { samplesTs = [avgTs]; samplesNs = [avgNs] }
            return ImportedMeasurement(
                platform: nil, backend: row.string("backends", "backend"), model: modelName(modelType),
                weightType: quantName(modelType), cacheType: row.string("type_k") ?? "f16",
                threads: try row.int("n_threads", fallback: 0), nPrompt: try row.int("n_prompt"),
                nGen: try row.int("n_gen"), nDepth: try row.int("n_depth", fallback: 0),
                samplesNs: samplesNs, samplesTs: samplesTs,
                error: avgTs.isFinite ? nil : "the source reports a rate of \(row.string("avg_ts") ?? "nothing")",
                cpuInfo: row.string("cpu_info"), buildCommit: row.string("build_commit"))
        }
    }

    /// `| model | size | params | backend | threads | test | t/s |` (more columns when non-default
    /// options were given), then `build: <commit> (<number>)`.
    static func fromMarkdown(_ text: String, file: String) throws -> [ImportedMeasurement] {
        let (rows, other) = ImportFormat.markdownRows(text, file: file)
        guard let first = rows.first else { throw ImportError(file, "no Markdown table rows") }
        for required in ["model", "test", "t/s"] where first.fields[required] == nil {
            throw ImportError(file, "not llama-bench Markdown: no column '\(required)'")
        }
        let build = other.first { $0.hasPrefix("build:") }.map {
            String($0.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return try rows.map { row in
            let test = try row.requiredString("test")
            guard let parsed = parseTest(test) else {
                throw ImportError(file, "line \(row.line): test '\(test)': expected ppN, tgN or ppN+tgM, optionally ' @ dD'")
            }
            let rateText = try row.requiredString("t/s")
            let parts = rateText.components(separatedBy: "±").map { $0.trimmingCharacters(in: .whitespaces) }
            let mean = Double(parts[0]) ?? .nan
            let tokens = Double(parsed.prompt + parsed.gen)
            let modelType = try row.requiredString("model")
            return ImportedMeasurement(
                platform: nil, backend: row.string("backend"), model: modelName(modelType), weightType: quantName(modelType),
                cacheType: row.string("type_k") ?? "f16", threads: try row.int("threads", fallback: 0),
                nPrompt: parsed.prompt, nGen: parsed.gen, nDepth: parsed.depth,
                samplesNs: [mean.isFinite && mean > 0 ? tokens * 1e9 / mean : .nan], samplesTs: [mean],
                error: mean.isFinite ? nil : "the source reports a rate of \(parts[0])", cpuInfo: nil, buildCommit: build)
        }
    }

    /// "pp512", "tg128", "pp512+tg128", each optionally " @ d16384".
    static func parseTest(_ text: String) -> (prompt: Int, gen: Int, depth: Int)? {
        var body = Substring(text.trimmingCharacters(in: .whitespaces)), depth = 0
        if let at = body.range(of: " @ d") {
            guard let d = Int(body[at.upperBound...]) else { return nil }
            depth = d
            body = body[..<at.lowerBound]
        }
        var prompt = 0, gen = 0
        for part in body.split(separator: "+") {
            if part.hasPrefix("pp"), let n = Int(part.dropFirst(2)) { prompt = n }
            else if part.hasPrefix("tg"), let n = Int(part.dropFirst(2)) { gen = n }
            else { return nil }
        }
        return prompt + gen > 0 ? (prompt, gen, depth) : nil
    }

    /// llama.cpp's model_type is "<arch> <size> <type>", the type spelled like "Q4_K - Medium".
    static func quantName(_ modelType: String) -> String {
        let words = modelType.split(separator: " ")
        guard words.count >= 3 else { return "unknown" }
        let type = words.dropFirst(2).joined(separator: " ")
        let suffixes = [" - Medium": "_M", " - Small": "_S", " - Large": "_L", " - Extra Small": "_XS", " - Extra small": "_XS"]
        for (long, short) in suffixes where type.hasSuffix(long) { return String(type.dropLast(long.count)) + short }
        return type
    }

    static func modelName(_ modelType: String) -> String {
        let words = modelType.split(separator: " ")
        return words.count >= 3 ? words.prefix(2).joined(separator: " ") : modelType
    }

    static func decodeArray(_ text: String?) -> [Double] {
        guard let text, let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else { return [] }
        return array.map { ($0 as? NSNumber)?.doubleValue ?? .nan }
    }
}
