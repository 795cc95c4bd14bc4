import CtxEngine
import Foundation

/// Input another tool wrote that ctxbench cannot read, with the file and what was expected.
public struct ImportError: Error, CustomStringConvertible {
    public let file: String
    public let message: String
    public init(_ file: String, _ message: String) { self.file = file; self.message = message }
    public var description: String { "\(file): \(message)" }
}

/// One measurement read from llama-bench or llama-batched-bench output, in llama-bench's terms:
/// `n_prompt` tokens of prefill and `n_gen` decode steps into a context already holding `n_depth`.
public struct ImportedMeasurement: Sendable {
    public var platform: String?
    public var backend: String?
    public var model: String
    public var weightType: String
    public var cacheType: String
    public var threads: Int
    public var nPrompt: Int
    public var nGen: Int
    public var nDepth: Int
    /// Parallel sequences (llama-batched-bench's B); 1 otherwise.
    public var sequences: Int = 1
    /// Per repetition, when the source has them; otherwise one sample (the reported mean).
    public var samplesNs: [Double]
    public var samplesTs: [Double]
    /// Set when the source reports a non-number (nan, inf) as the rate.
    public var error: String? = nil
    public var cpuInfo: String? = nil
    public var buildCommit: String? = nil

    /// llama-bench's test label: pp512, tg128, pp512+tg128, " @ dD" at depth, " x4" for 4 sequences.
    public var testLabel: String {
        var label = nPrompt > 0 && nGen > 0 ? "pp\(nPrompt)+tg\(nGen)" : nPrompt > 0 ? "pp\(nPrompt)" : "tg\(nGen)"
        if sequences > 1 { label += " x\(sequences)" }
        return nDepth > 0 ? "\(label) @ d\(nDepth)" : label
    }
}

/// A run directory made from imported measurements: the same files `ctxbench run` writes, so
/// report, compare and gate treat it like one of ours. Each platform in a file becomes one run.
public struct ImportedRun {
    public var metadata: RunMetadata
    public var cells: [CellResult]

    /// Groups measurements by platform (one run each, in first-seen order).
    public static func make(_ measurements: [ImportedMeasurement], source: String, file: String,
                            platformName: String?, commandLine: [String]) -> [ImportedRun] {
        var order: [String] = []
        var groups: [String: [ImportedMeasurement]] = [:]
        for m in measurements {
            let name = platformName ?? m.platform ?? m.cpuInfo ?? "unknown platform"
            if groups[name] == nil { order.append(name) }
            groups[name, default: []].append(m)
        }
        let now = SuiteRunner.timestamp()
        return order.map { name in
            let group = groups[name]!
            var platform = PlatformInfo.unknown
            platform.cpuModel = group.first?.cpuInfo ?? name
            platform.hostname = "imported"
            platform.logicalCores = group.map(\.threads).max() ?? 0
            platform.gitCommit = group.first?.buildCommit
            var metadata = RunMetadata(
                suiteName: (file as NSString).lastPathComponent, suiteFile: file, suite: "", platform: platform,
                limits: [], gitCommit: group.first?.buildCommit, commandLine: commandLine, shard: nil,
                startedAt: now, finishedAt: now, status: "complete", cellsPlanned: group.count)
            metadata.source = source
            metadata.platformName = name
            metadata.backend = group.first?.backend
            var seen: [String: Int] = [:]
            let cells = group.enumerated().map { index, m -> CellResult in
                var id = "\(m.model)/\(m.weightType)/\(m.cacheType)/t\(m.threads)/-/computed/\(m.testLabel.replacingOccurrences(of: " @ d", with: "@d"))"
                if !id.contains("@d") { id += "@d0" }
                // A file may hold the same test twice (two invocations appended): keep both, numbered.
                seen[id, default: 0] += 1
                if seen[id]! > 1 { id += "#\(seen[id]!)" }
                let rates = m.samplesTs.filter(\.isFinite)
                return CellResult(
                    cellID: id, cellIndex: index, status: m.error == nil ? .ok : .failed, error: m.error,
                    model: m.model, preset: "", layers: 0, layersTotal: 0, weightType: m.weightType,
                    cacheType: m.cacheType, threads: m.threads, numa: "-", fill: "computed", test: m.testLabel,
                    nPrompt: m.nPrompt, nGen: m.nGen, nDepth: m.nDepth, warmup: 0, samplesNs: m.samplesNs,
                    samplesTs: m.samplesTs, rate: m.error == nil && !rates.isEmpty ? SampleStatistics(rates) : nil,
                    finishedAt: now, ops: [])
            }
            return ImportedRun(metadata: metadata, cells: cells)
        }
    }

    /// Writes run.json, cells.jsonl, samples.jsonl and the tables.
    public func write(to path: String) throws {
        if RunDirectory.holdsRun(path) {
            throw ImportError(path, "already holds a run; choose another --out")
        }
        let directory = try RunDirectory(path: path)
        try directory.openLogs(keepingSamplesOf: [])
        defer { directory.close() }
        for cell in cells {
            for (repetition, ns) in cell.samplesNs.enumerated() {
                try directory.appendSample(.init(cellID: cell.cellID, repetition: repetition, ns: ns,
                                                 tokens: (cell.nPrompt + cell.nGen), tokenNs: nil))
            }
            try directory.appendCell(cell)
        }
        try directory.writeMetadata(metadata)
        try directory.writeTables(cells: cells, title: "\(metadata.platformLabel) (imported from \(metadata.source ?? "?"))")
    }

    /// A directory name for a platform: "Mac Studio M4 Max" -> "mac-studio-m4-max".
    public static func slug(_ name: String) -> String {
        let lowered = name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String(lowered).split(separator: "-").joined(separator: "-")
    }
}

/// Field access by name for rows of another tool's output (their column sets change between
/// versions, so never by position).
struct NamedRow {
    let file: String
    let line: Int
    let fields: [String: String]

    func string(_ names: String...) -> String? {
        for n in names { if let v = fields[n], !v.isEmpty { return v } }
        return nil
    }

    func requiredString(_ names: String...) throws -> String {
        for n in names { if let v = fields[n], !v.isEmpty { return v } }
        throw ImportError(file, "line \(line): missing field '\(names[0])'")
    }

    /// An integer field; `fallback` when absent (older versions lack some, e.g. n_depth).
    func int(_ names: String..., fallback: Int? = nil) throws -> Int {
        for n in names {
            guard let v = fields[n], !v.isEmpty else { continue }
            if let i = Int(v.trimmingCharacters(in: .whitespaces)) { return i }
            if let d = Double(v.trimmingCharacters(in: .whitespaces)), d == d.rounded() { return Int(d) }
            throw ImportError(file, "line \(line): field '\(n)': expected an integer, got '\(v)'")
        }
        if let fallback { return fallback }
        throw ImportError(file, "line \(line): missing field '\(names[0])'")
    }

    /// A number field; "nan", "inf" and "-" read as NaN (llama.cpp prints them); absent is nil.
    func number(_ names: String...) throws -> Double? {
        for n in names {
            guard let raw = fields[n]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { continue }
            if let d = Double(raw) { return d }
            if ["nan", "-nan", "inf", "-inf", "-", "n/a"].contains(raw.lowercased()) { return .nan }
            throw ImportError(file, "line \(line): field '\(n)': expected a number, got '\(raw)'")
        }
        return nil
    }
}

enum ImportFormat {
    /// Rows of a CSV file with a header, through libcsv.
    static func csvRows(_ text: String, file: String) throws -> [NamedRow] {
        let rows: [[String]]
        do { rows = try CSVCodec.parse(text) } catch { throw ImportError(file, "\(error)") }
        guard let header = rows.first else { throw ImportError(file, "empty CSV") }
        return rows.dropFirst().enumerated().map { i, row in
            var fields: [String: String] = [:]
            for (k, v) in zip(header, row) { fields[k.trimmingCharacters(in: .whitespaces)] = v }
            return NamedRow(file: file, line: i + 2, fields: fields)
        }
    }

    /// JSON objects: a top-level array (llama-bench -o json) or one object per line (jsonl).
    /// Arrays inside (samples_ns) are kept as JSON text.
    static func jsonRows(_ text: String, file: String) throws -> [NamedRow] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var objects: [(Int, Any)] = []
        if trimmed.hasPrefix("[") {
            guard let array = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [Any] else {
                throw ImportError(file, "not a JSON array of objects")
            }
            objects = array.enumerated().map { ($0 + 1, $1) }
        } else {
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let l = line.trimmingCharacters(in: .whitespaces)
                if l.isEmpty { continue }
                guard let o = try? JSONSerialization.jsonObject(with: Data(l.utf8)) else {
                    throw ImportError(file, "line \(i + 1): not a JSON object")
                }
                objects.append((i + 1, o))
            }
        }
        return try objects.map { line, object in
            guard let dict = object as? [String: Any] else { throw ImportError(file, "line \(line): expected a JSON object") }
            var fields: [String: String] = [:]
            for (k, v) in dict {
                switch v {
                case let s as String: fields[k] = s
                case let n as NSNumber: fields[k] = n.stringValue
                case is NSNull: break
                default:
                    if let data = try? JSONSerialization.data(withJSONObject: v) { fields[k] = String(decoding: data, as: UTF8.self) }
                }
            }
            return NamedRow(file: file, line: line, fields: fields)
        }
    }

    /// The rows of the first Markdown table in `text`, keyed by header cell; other lines are ignored.
    static func markdownRows(_ text: String, file: String) -> (rows: [NamedRow], otherLines: [String]) {
        var header: [String]? = nil
        var rows: [NamedRow] = []
        var other: [String] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("|") else { other.append(line); continue }
            let cells = line.dropFirst().split(separator: "|", omittingEmptySubsequences: false).dropLast(line.hasSuffix("|") ? 1 : 0)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if header == nil { header = cells; continue }
            if cells.allSatisfy({ $0.allSatisfy { "-:".contains($0) } }) { continue }  // separator row
            var fields: [String: String] = [:]
            for (k, v) in zip(header!, cells) { fields[k] = v }
            rows.append(NamedRow(file: file, line: i + 1, fields: fields))
        }
        return (rows, other)
    }

    /// Decides how to read a file from its first characters (and its extension for CSV vs text).
    enum Kind { case csv, json, markdown }

    static func detect(_ text: String, file: String) throws -> Kind {
        let first = text.drop { $0.isWhitespace }.first
        switch first {
        case "[", "{": return .json
        case nil: throw ImportError(file, "empty file")
        default:
            if text.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("|") }) { return .markdown }
            if text.split(separator: "\n").first?.contains(",") == true { return .csv }
            throw ImportError(file, "not CSV, JSON, JSONL or a Markdown table")
        }
    }
}
