import CtxEngine
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// The source's standard deviation of the rate, when it prints one but not the samples
    /// (llama-bench's CSV `stddev_ts`, Markdown "± x"): kept as printed, never recomputed.
    public var reportedStddevTs: Double? = nil
    /// The tool's settings for this measurement (n_ubatch, flash_attn, type_v, ...): those that
    /// differ between measurements of one file become part of the cell's identity.
    public var settings: [String: String] = [:]

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
            // Settings that differ between the measurements name them apart: ".../pp512@d0/fa=1,n_ubatch=256".
            let keys = Set(group.flatMap(\.settings.keys))
            let distinguishing = keys.filter { k in Set(group.map { $0.settings[k] ?? "" }).count > 1 }.sorted()
            var seen: [String: Int] = [:]
            let cells = group.enumerated().map { index, m -> CellResult in
                var id = "\(m.model)/\(m.weightType)/\(m.cacheType)/t\(m.threads)/-/computed/\(m.testLabel.replacingOccurrences(of: " @ d", with: "@d"))"
                if !id.contains("@d") { id += "@d0" }
                if !distinguishing.isEmpty {
                    id += "/" + distinguishing.map { "\($0)=\(m.settings[$0] ?? "")" }.joined(separator: ",")
                }
                // The same test with the same settings twice (an invocation repeated): keep both, numbered.
                seen[id, default: 0] += 1
                if seen[id]! > 1 { id += "#\(seen[id]!)" }
                let rates = m.samplesTs.filter(\.isFinite)
                var rate: SampleStatistics? = nil
                if m.error == nil && !rates.isEmpty {
                    rate = m.reportedStddevTs.map { SampleStatistics(reportedMean: rates[0], standardDeviation: $0) } ?? SampleStatistics(rates)
                }
                var cell = CellResult(
                    cellID: id, cellIndex: index, status: m.error == nil ? .ok : .failed, error: m.error,
                    model: m.model, preset: "", layers: 0, layersTotal: 0, weightType: m.weightType,
                    cacheType: m.cacheType, threads: m.threads, numa: "-", fill: "computed", test: m.testLabel,
                    nPrompt: m.nPrompt, nGen: m.nGen, nDepth: m.nDepth, warmup: 0, samplesNs: m.samplesNs,
                    samplesTs: m.samplesTs, rate: rate, finishedAt: now, ops: [])
                cell.engine = Suite.Engine.Kind.llamaCpp.rawValue
                return cell
            }
            return ImportedRun(metadata: metadata, cells: cells)
        }
    }

    /// Writes run.json, cells.jsonl, samples.jsonl and the tables into a new directory at `path`:
    /// built beside it and renamed into place, so a failure leaves no half-written run. Refuses
    /// a path that exists.
    public func write(to path: String) throws {
        if FileError.kind(of: path) != nil {
            throw ImportError(path, "already exists; choose another --out (an import never writes into an existing directory)")
        }
        let target = path.hasSuffix("/") ? String(path.dropLast()) : path
        let staging = "\(target).importing-\(getpid())"
        let (directory, _) = try RunDirectory.create(path: staging, force: false)
        do {
            try directory.openLogs(keepingSamplesOf: [])
            for cell in cells {
                for (repetition, ns) in cell.samplesNs.enumerated() {
                    try directory.appendSample(.init(cellID: cell.cellID, repetition: repetition, ns: ns,
                                                     tokens: (cell.nPrompt + cell.nGen), tokenNs: nil))
                }
                try directory.appendCell(cell)
            }
            try directory.writeMetadata(metadata)
            try directory.writeTables(cells: cells, title: "\(metadata.platformLabel) (imported from \(metadata.source ?? "?"))")
            directory.close()
            try? FileManager.default.removeItem(atPath: directory.file(RunDirectory.lockFile))
            guard rename(staging, target) == 0 else { throw FileError("rename \(staging) to", target, reason: String(cString: strerror(errno))) }
        } catch {
            directory.close()
            try? FileManager.default.removeItem(atPath: staging)  // ours, made in this call
            throw error
        }
    }

    /// A directory name for a platform: "Mac Studio M4 Max" -> "mac-studio-m4-max".
    public static func slug(_ name: String) -> String {
        let lowered = name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String(lowered).split(separator: "-").joined(separator: "-")
    }
}

/// Field access by name for rows of another tool's output (their column sets change between
/// versions, so never by position). Every value is checked: a field that does not hold what it
/// must is an error naming the file, the line and the field.
struct NamedRow {
    let file: String
    let line: Int
    let fields: [String: String]

    func fail(_ field: String, _ message: String) -> ImportError {
        ImportError(file, "line \(line): field '\(field)': \(message)")
    }

    func string(_ names: String...) -> String? {
        for n in names { if let v = fields[n], !v.isEmpty { return v } }
        return nil
    }

    func requiredString(_ names: String...) throws -> String {
        for n in names { if let v = fields[n], !v.isEmpty { return v } }
        throw ImportError(file, "line \(line): missing field '\(names[0])'")
    }

    /// Token counts, thread counts and the like: at most 2^30.
    static let counts = 0...(1 << 30)

    /// An integer field within `range`; `fallback` when absent (older versions lack some, e.g. n_depth).
    func int(_ names: String..., fallback: Int? = nil, range: ClosedRange<Int> = counts) throws -> Int {
        for n in names {
            guard let raw = fields[n]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { continue }
            let value: Int?
            if let i = Int(raw) { value = i }
            else if let d = Double(raw), d.isFinite, d == d.rounded(), abs(d) < 1e18 { value = Int(d) }
            else { value = nil }
            guard let value, range.contains(value) else {
                throw fail(n, "expected an integer \(range.lowerBound)...\(range.upperBound), got '\(clipped(raw, 40))'")
            }
            return value
        }
        if let fallback { return fallback }
        throw ImportError(file, "line \(line): missing field '\(names[0])'")
    }

    /// The words llama.cpp prints for non-numbers (a bare `-nan` in its JSON, `nan` in tables).
    static let nonNumbers: Set<String> = ["nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity", "-", "n/a"]

    /// A number field; the non-number words read as NaN; absent is nil.
    func number(_ names: String...) throws -> Double? {
        for n in names {
            guard let raw = fields[n]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { continue }
            return try Self.parseNumber(raw) { self.fail(n, $0) }
        }
        return nil
    }

    static func parseNumber(_ raw: String, fail: (String) -> ImportError) throws -> Double {
        if Self.nonNumbers.contains(raw.lowercased()) { return .nan }
        guard let d = Double(raw) else { throw fail("expected a number, got '\(clipped(raw, 40))'") }
        return d
    }

    /// A rate: positive when it is a number (a zero or negative rate is no measurement); NaN
    /// (the source printed nan or inf) marks a failed cell.
    func rate(_ names: String...) throws -> Double? {
        for n in names {
            guard let raw = fields[n]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { continue }
            let v = try Self.parseNumber(raw) { self.fail(n, $0) }
            if v.isFinite && v <= 0 { throw fail(n, "expected a positive rate, got \(raw)") }
            return v.isFinite ? v : .nan
        }
        return nil
    }

    /// A JSON array of numbers (llama-bench's samples_ns, samples_ts): [] when absent.
    func numberArray(_ name: String) throws -> [Double] {
        guard let text = fields[name], !text.isEmpty else { return [] }
        guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else {
            throw fail(name, "expected an array of numbers")
        }
        return try array.map { item in
            if let n = item as? NSNumber { return n.doubleValue }
            if let s = item as? String, Self.nonNumbers.contains(s.lowercased()) { return .nan }
            throw fail(name, "expected an array of numbers, found \(clipped("\(item)", 40))")
        }
    }
}

enum ImportFormat {
    /// Rows of a CSV file with a header, through libcsv. A header that names a column twice is an
    /// error; a header line repeated further down (outputs of several runs appended) is skipped;
    /// a row with another number of fields than the header is an error (a truncated file).
    static func csvRows(_ text: String, file: String) throws -> [NamedRow] {
        let rows: [[String]]
        do { rows = try CSVCodec.parse(text) } catch { throw ImportError(file, "\(error)") }
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces) }) else { throw ImportError(file, "empty CSV") }
        var seen: [String: Int] = [:]
        for (i, name) in header.enumerated() {
            if let earlier = seen[name] {
                throw ImportError(file, "line 1: the header names column '\(clipped(name, 40))' twice (columns \(earlier + 1) and \(i + 1))")
            }
            seen[name] = i
        }
        var out: [NamedRow] = []
        for (i, row) in rows.dropFirst().enumerated() {
            let trimmed = row.map { $0.trimmingCharacters(in: .whitespaces) }
            if trimmed == header { continue }
            if trimmed.count == 1 && trimmed[0].isEmpty { continue }
            guard row.count == header.count else {
                throw ImportError(file, "line \(i + 2): \(row.count) fields where the header has \(header.count) (a truncated or mixed file?)")
            }
            var fields: [String: String] = [:]
            for (k, v) in zip(header, row) { fields[k] = v }
            out.append(NamedRow(file: file, line: i + 2, fields: fields))
        }
        return out
    }

    /// JSON objects: a top-level array (llama-bench -o json), one object per line (jsonl), or several
    /// of either appended. llama.cpp writes NaN as a bare `nan` or `-nan` (not JSON): such words
    /// outside strings are read as the string "nan", which the number readers take as NaN.
    /// Arrays inside (samples_ns) are kept as JSON text.
    static func jsonRows(_ text: String, file: String) throws -> [NamedRow] {
        let scalars = Array(text.unicodeScalars)
        var objects: [(line: Int, text: String)] = []
        var i = 0, line = 1, depth = 0
        var arrayDepthStack: [Character] = []
        var current = String.UnicodeScalarView(), objectLine = 0, inObject = false
        while i < scalars.count {
            let c = scalars[i]
            if c == "\n" { line += 1 }
            if c == "\"" {
                // A string: copied whole, escapes included.
                var j = i + 1
                while j < scalars.count, scalars[j] != "\"" {
                    if scalars[j] == "\\" { j += 1 }
                    if j < scalars.count, scalars[j] == "\n" { throw ImportError(file, "line \(line): line break inside a JSON string") }
                    j += 1
                }
                guard j < scalars.count else { throw ImportError(file, "line \(line): unterminated JSON string (a truncated file?)") }
                if inObject { current.append(contentsOf: scalars[i...j]) }
                i = j + 1
                continue
            }
            if c.properties.isAlphabetic || ((c == "-" || c == "+") && i + 1 < scalars.count && scalars[i + 1].properties.isAlphabetic) {
                var j = i + 1
                while j < scalars.count, scalars[j].properties.isAlphabetic { j += 1 }
                let word = String(String.UnicodeScalarView(scalars[i..<j]))
                let lower = word.lowercased()
                if NamedRow.nonNumbers.contains(lower) {
                    if inObject { current.append(contentsOf: "\"\(lower)\"".unicodeScalars) }
                } else if ["true", "false", "null"].contains(word) || (c == "e" || c == "E") {
                    if inObject { current.append(contentsOf: word.unicodeScalars) }
                } else {
                    throw ImportError(file, "line \(line): unexpected word '\(clipped(word, 30))' in JSON")
                }
                i = j
                continue
            }
            switch c {
            case "{":
                if depth == 0 || (depth == 1 && arrayDepthStack.first == "[") {
                    if !inObject { inObject = true; objectLine = line; current = String.UnicodeScalarView() }
                }
                depth += 1
                arrayDepthStack.append("{")
            case "[":
                depth += 1
                arrayDepthStack.append("[")
            case "}", "]":
                guard let open = arrayDepthStack.popLast(), (open == "{") == (c == "}") else {
                    throw ImportError(file, "line \(line): unbalanced '\(c)' in JSON")
                }
                depth -= 1
            default:
                if depth == 0 && !c.properties.isWhitespace && c != "," {
                    throw ImportError(file, "line \(line): unexpected '\(c)' outside a JSON object")
                }
            }
            if inObject { current.append(c) }
            if c == "}" && inObject && (depth == 0 || (depth == 1 && arrayDepthStack.first == "[")) {
                objects.append((objectLine, String(current)))
                inObject = false
            }
            i += 1
        }
        if depth != 0 { throw ImportError(file, "line \(line): the JSON ends inside \(arrayDepthStack.last == "[" ? "an array" : "an object") (a truncated file?)") }
        return try objects.map { line, text in
            guard let dict = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                throw ImportError(file, "line \(line): not a JSON object")
            }
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

    /// A Markdown table and the lines around it.
    struct MarkdownTable {
        var header: [String]
        var rows: [NamedRow]
        /// Non-table lines before it (after the previous table).
        var before: [String]
        /// Non-table lines after it (before the next table).
        var after: [String] = []
        /// Whether any line (a blank one included) follows its last row: a file cut at a row
        /// boundary ends without one.
        var closed = false
    }

    /// Every Markdown table in `text` (outputs of several invocations may be appended). A row with
    /// another number of cells than its header is an error (a truncated file); a repeated header
    /// starts a new table.
    static func markdownTables(_ text: String, file: String) throws -> [MarkdownTable] {
        var lines = text.components(separatedBy: "\n")
        if text.hasSuffix("\n") { lines.removeLast() }
        var tables: [MarkdownTable] = []
        var pending: [String] = []
        var inTable = false
        for (i, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("|") else {
                if inTable { tables[tables.count - 1].closed = true; inTable = false }
                if !tables.isEmpty { tables[tables.count - 1].after.append(line) }
                pending.append(line)
                continue
            }
            let cells = line.dropFirst().split(separator: "|", omittingEmptySubsequences: false).dropLast(line.hasSuffix("|") ? 1 : 0)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if !inTable || cells == tables.last?.header {
                tables.append(MarkdownTable(header: cells, rows: [], before: pending))
                pending = []
                inTable = true
                continue
            }
            if cells.allSatisfy({ $0.allSatisfy { "-:".contains($0) } }) { continue }  // separator row
            let header = tables[tables.count - 1].header
            guard cells.count == header.count, line.hasSuffix("|") else {
                throw ImportError(file, "line \(i + 1): a table row with \(cells.count) of \(header.count) cells (the file looks truncated)")
            }
            var fields: [String: String] = [:]
            for (k, v) in zip(header, cells) { fields[k] = v }
            tables[tables.count - 1].rows.append(NamedRow(file: file, line: i + 1, fields: fields))
        }
        return tables
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
