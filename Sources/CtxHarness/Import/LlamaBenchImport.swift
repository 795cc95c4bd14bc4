import Foundation

/// Reads llama-bench output: `-o csv`, `-o json`, `-o jsonl` and `-o md`, or several of one kind
/// appended. Fields are read by name (the set changes between versions; n_depth is absent before
/// depth support and reads as 0). JSON and JSONL carry every repetition (samples_ns, samples_ts);
/// CSV and Markdown only the mean and standard deviation, which are kept as printed (their cells
/// have one sample, and `gate` calls them inconclusive).
public enum LlamaBenchImport {
    public static func parse(_ text: String, file: String) throws -> [ImportedMeasurement] {
        switch try ImportFormat.detect(text, file: file) {
        case .csv: return try fromFields(ImportFormat.csvRows(text, file: file), file: file)
        case .json: return try fromFields(ImportFormat.jsonRows(text, file: file), file: file)
        case .markdown: return try fromMarkdown(text, file: file)
        }
    }

    /// Fields that are the measurement or describe the model and machine, not settings of the test.
    static let notSettings: Set<String> = [
        "build_commit", "build_number", "cpu_info", "gpu_info", "backends", "model_filename", "model_type", "model_size",
        "model_n_params", "n_threads", "type_k", "n_prompt", "n_gen", "n_depth", "test_time", "avg_ns", "stddev_ns",
        "avg_ts", "stddev_ts", "samples_ns", "samples_ts",
        // Markdown columns
        "model", "size", "params", "backend", "threads", "test", "t/s",
    ]

    static func settings(_ row: NamedRow) -> [String: String] {
        row.fields.filter { !notSettings.contains($0.key) }
    }

    static func fromFields(_ rows: [NamedRow], file: String) throws -> [ImportedMeasurement] {
        guard let first = rows.first else { throw ImportError(file, "no results in the file") }
        for required in ["n_prompt", "n_gen", "avg_ts"] where first.fields[required] == nil {
            throw ImportError(file, "not llama-bench output: no field '\(required)' (fields: \(clipped(first.fields.keys.sorted().joined(separator: ", "), 300)))")
        }
        return try rows.map { row in
            let modelType = row.string("model_type") ?? row.string("model_filename") ?? "unknown"
            let nPrompt = try row.int("n_prompt"), nGen = try row.int("n_gen")
            if nPrompt == 0 && nGen == 0 { throw ImportError(file, "line \(row.line): n_prompt and n_gen are both 0: not a test") }
            guard let avgTs = try row.rate("avg_ts") else { throw ImportError(file, "line \(row.line): missing field 'avg_ts'") }
            let avgNs = try row.number("avg_ns") ?? .nan
            var samplesTs = try row.numberArray("samples_ts")
            var samplesNs = try row.numberArray("samples_ns")
            var stddev: Double? = nil
            if !samplesTs.isEmpty || !samplesNs.isEmpty {
                try checkSamples(row, ts: samplesTs, ns: samplesNs, avgTs: avgTs, tokens: nPrompt + nGen)
            } else {
                samplesTs = [avgTs]
                samplesNs = [avgNs]
                if let sd = try row.number("stddev_ts") {
                    if sd.isFinite && sd < 0 { throw row.fail("stddev_ts", "expected a standard deviation >= 0, got \(sd)") }
                    stddev = sd
                }
            }
            var m = ImportedMeasurement(
                platform: nil, backend: row.string("backends", "backend"), model: modelName(modelType),
                weightType: quantName(modelType), cacheType: row.string("type_k") ?? "f16",
                threads: try row.int("n_threads", fallback: 0), nPrompt: nPrompt, nGen: nGen,
                nDepth: try row.int("n_depth", fallback: 0), samplesNs: samplesNs, samplesTs: samplesTs,
                error: avgTs.isFinite ? nil : "the source reports a rate of \(row.string("avg_ts") ?? "nothing")",
                cpuInfo: row.string("cpu_info"), buildCommit: row.string("build_commit"))
            m.reportedStddevTs = stddev
            m.settings = settings(row)
            return m
        }
    }

    /// Per-repetition samples must be one per repetition on both sides, positive, and agree with
    /// the mean the tool printed (llama-bench's avg_ts is the mean of samples_ts).
    static func checkSamples(_ row: NamedRow, ts: [Double], ns: [Double], avgTs: Double, tokens: Int) throws {
        if !ts.isEmpty && !ns.isEmpty && ts.count != ns.count {
            throw row.fail("samples_ts", "\(ts.count) samples where samples_ns has \(ns.count)")
        }
        if let bad = ts.first(where: { $0.isFinite && $0 <= 0 }) { throw row.fail("samples_ts", "expected positive rates, found \(bad)") }
        if let bad = ns.first(where: { $0.isFinite && $0 <= 0 }) { throw row.fail("samples_ns", "expected positive times, found \(bad)") }
        if avgTs.isFinite, !ts.isEmpty, ts.allSatisfy(\.isFinite) {
            let mean = ts.reduce(0, +) / Double(ts.count)
            if abs(mean - avgTs) > 1e-3 * avgTs + 0.01 {
                throw row.fail("samples_ts", String(format: "their mean %.4g disagrees with avg_ts %.4g", mean, avgTs))
            }
        }
    }

    /// `| model | size | params | backend | threads | test | t/s |` (more columns when non-default
    /// options were given), then `build: <commit> (<number>)`. Several tables may be appended.
    static func fromMarkdown(_ text: String, file: String) throws -> [ImportedMeasurement] {
        let tables = try ImportFormat.markdownTables(text, file: file)
        guard tables.contains(where: { !$0.rows.isEmpty }) else { throw ImportError(file, "no Markdown table rows") }
        var out: [ImportedMeasurement] = []
        for table in tables {
            for required in ["model", "test", "t/s"] where !table.header.contains(required) {
                throw ImportError(file, "line \(table.rows.first?.line ?? 1): not llama-bench Markdown: no column '\(required)'")
            }
            // llama-bench ends every table with its build line: a table without one was cut short.
            guard let buildLine = table.after.first(where: { $0.hasPrefix("build:") }) else {
                throw ImportError(file, "line \(table.rows.last?.line ?? 1): the table has no 'build:' line after it, as llama-bench prints: "
                                  + "the file looks truncated (if it is complete, add the build line llama-bench printed)")
            }
            let build = String(buildLine.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
            for row in table.rows {
                let test = try row.requiredString("test")
                guard let parsed = parseTest(test) else {
                    throw row.fail("test", "expected ppN, tgN or ppN+tgM, optionally ' @ dD', got '\(clipped(test, 40))'")
                }
                let rateText = try row.requiredString("t/s")
                let parts = rateText.components(separatedBy: "±").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count <= 2 else { throw row.fail("t/s", "expected 'mean ± sd', got '\(clipped(rateText, 40))'") }
                let mean = try NamedRow.parseNumber(parts[0]) { row.fail("t/s", $0) }
                if mean.isFinite && mean <= 0 { throw row.fail("t/s", "expected a positive rate, got \(parts[0])") }
                var sd: Double? = nil
                if parts.count == 2 {
                    sd = try NamedRow.parseNumber(parts[1]) { row.fail("t/s", $0) }
                    if let s = sd, s.isFinite && s < 0 { throw row.fail("t/s", "expected a standard deviation >= 0, got \(parts[1])") }
                }
                let tokens = Double(parsed.prompt + parsed.gen)
                let modelType = try row.requiredString("model")
                var m = ImportedMeasurement(
                    platform: nil, backend: row.string("backend"), model: modelName(modelType), weightType: quantName(modelType),
                    cacheType: row.string("type_k") ?? "f16", threads: try row.int("threads", fallback: 0),
                    nPrompt: parsed.prompt, nGen: parsed.gen, nDepth: parsed.depth,
                    samplesNs: [mean.isFinite ? tokens * 1e9 / mean : .nan], samplesTs: [mean],
                    error: mean.isFinite ? nil : "the source reports a rate of \(parts[0])", cpuInfo: nil, buildCommit: build)
                m.reportedStddevTs = sd
                m.settings = settings(row)
                out.append(m)
            }
        }
        return out
    }

    /// "pp512", "tg128", "pp512+tg128", each optionally " @ d16384".
    static func parseTest(_ text: String) -> (prompt: Int, gen: Int, depth: Int)? {
        var body = Substring(text.trimmingCharacters(in: .whitespaces)), depth = 0
        let limit = NamedRow.counts
        if let at = body.range(of: " @ d") {
            guard let d = Int(body[at.upperBound...]), limit.contains(d) else { return nil }
            depth = d
            body = body[..<at.lowerBound]
        }
        var prompt = 0, gen = 0
        for part in body.split(separator: "+") {
            if part.hasPrefix("pp"), let n = Int(part.dropFirst(2)), limit.contains(n) { prompt = n }
            else if part.hasPrefix("tg"), let n = Int(part.dropFirst(2)), limit.contains(n) { gen = n }
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
}
