import CtxEngine
import Foundation

/// What a run directory says about itself (run.json).
public struct RunMetadata: Codable, Sendable {
    public var schemaVersion: Int = ResultSchema.version
    public var tool: String = "ctxbench \(BuildInfo.version)"
    public var suiteName: String
    public var suiteFile: String
    /// The suite as parsed, as JSON text.
    public var suite: String
    public var platform: PlatformInfo
    /// The limits efficiency is computed against, per thread count (absent: not calibrated).
    public var limits: [MachineLimits]
    public var gitCommit: String?
    public var commandLine: [String]
    public var shard: String?
    public var startedAt: String
    public var finishedAt: String?
    /// running, complete, interrupted.
    public var status: String
    public var cellsPlanned: Int
    /// Where the results came from: nil for ctxbench's own runs, "llama-bench" or
    /// "llama-batched-bench" for imports (`ctxbench import`).
    public var source: String? = nil
    /// The platform's name in reports ("Mac Studio M4 Max"); nil: the CPU model and host.
    public var platformName: String? = nil
    /// Backend of an imported run (Metal, CUDA, Vulkan, CPU).
    public var backend: String? = nil
    /// The test-only slowdown knob (CTXBENCH_TEST_SLOWDOWN) this run was made with, if any: such a
    /// run exists to check that `gate` catches a slower build, and says so.
    public var testSlowdown: Double? = nil

    /// How reports name the platform of this run.
    public var platformLabel: String {
        if let platformName { return platformName }
        return "\(platform.cpuModel) (\(platform.hostname))"
    }
}

/// A run's files, written so that nothing is lost when the process dies:
///   run.json        metadata, replaced atomically at start and end
///   samples.jsonl   one line per timed repetition, appended and flushed as produced
///   cells.jsonl     one line per finished cell (the record `--resume` trusts)
///   ladder.csv      computed-fill extension segments (llama-batched-bench's S_PP curve)
///   cells.csv, ops.csv, summary.md   regenerated atomically after every cell
public final class RunDirectory: @unchecked Sendable {
    public let path: String
    private var samples: FileHandle?
    private var cellLog: FileHandle?

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A directory to read (nothing is created).
    public init(existing path: String) { self.path = path }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Opens the append-only logs. On resume, lines of cells that did not finish are dropped first
    /// (and a torn last line from a kill), so a re-run cell's samples are not duplicated.
    public func openLogs(keepingSamplesOf finished: Set<String>) throws {
        for name in ["samples.jsonl", "cells.jsonl"] {
            let url = file(name)
            if !FileManager.default.fileExists(atPath: url) {
                _ = FileManager.default.createFile(atPath: url, contents: nil)
                continue
            }
            let text = try String(contentsOfFile: url, encoding: .utf8)
            var kept: [Substring] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let cell = object["cellID"] as? String else { continue }  // torn line
                if finished.contains(cell) { kept.append(line) }
            }
            try AtomicFile.write(kept.map { $0 + "\n" }.joined(), to: url)
        }
        samples = FileHandle(forWritingAtPath: file("samples.jsonl"))
        cellLog = FileHandle(forWritingAtPath: file("cells.jsonl"))
        samples?.seekToEndOfFile()
        cellLog?.seekToEndOfFile()
    }

    /// Finished cells recorded in cells.jsonl (complete lines only).
    public func finishedCells() -> [CellResult] {
        guard let text = try? String(contentsOfFile: file("cells.jsonl"), encoding: .utf8) else { return [] }
        var seen = Set<String>()
        return text.split(separator: "\n").compactMap { line in
            guard let r = try? JSONFormat.decode(CellResult.self, from: Data(line.utf8)), seen.insert(r.cellID).inserted else { return nil }
            return r
        }
    }

    public struct SampleLine: Codable {
        public var cellID: String
        public var repetition: Int
        public var ns: Double
        public var tokens: Int
        /// Per-token decode latencies (tg and the generation part of pg).
        public var tokenNs: [Double]?
    }

    public func appendSample(_ sample: SampleLine) throws {
        try append(JSONFormat.encode(sample, pretty: false), to: samples)
    }

    public func appendCell(_ result: CellResult) throws {
        try append(JSONFormat.encode(result, pretty: false), to: cellLog)
    }

    private func append(_ data: Data, to handle: FileHandle?) throws {
        guard let handle else { return }
        try handle.write(contentsOf: data + Data("\n".utf8))
        try handle.synchronize()
    }

    /// The run's metadata file; a directory is a run directory when it holds one.
    public static let metadataFile = "run.json"

    /// Whether `path` holds a run (its run.json exists); nothing is created.
    public static func holdsRun(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: RunDirectory(existing: path).file(metadataFile))
    }

    public func writeMetadata(_ metadata: RunMetadata) throws {
        try AtomicFile.writeJSON(metadata, to: file(Self.metadataFile))
    }

    public func readMetadata() throws -> RunMetadata {
        try JSONFormat.decode(RunMetadata.self, from: Data(contentsOf: URL(fileURLWithPath: file(Self.metadataFile))))
    }

    public func writeTables(cells: [CellResult], title: String) throws {
        let ordered = cells.sorted { $0.cellIndex < $1.cellIndex }
        try AtomicFile.write(ResultSchema.cellsCSV(ordered), to: file("cells.csv"))
        try AtomicFile.write(ResultSchema.opsCSV(ordered.flatMap(\.ops)), to: file("ops.csv"))
        try AtomicFile.write(ResultSchema.summaryMarkdown(ordered, title: title), to: file("summary.md"))
        let ladder = Self.ladderRows(ordered)
        if !ladder.isEmpty {
            try AtomicFile.write(ResultSchema.ladderCSV(ladder), to: file("ladder.csv"))
        }
    }

    /// Computed-fill segments per setup: the prefill from one depth of the ladder to the next, and
    /// S_PP(N) = N / (time to fill N tokens from empty), llama-batched-bench's prefill curve.
    static func ladderRows(_ cells: [CellResult]) -> [[String]] {
        var rows: [[String]] = []
        let computed = cells.filter { $0.fill == "computed" && $0.status == .ok }
        let setups = Dictionary(grouping: computed) { "\($0.model)/\($0.weightType)/\($0.cacheType)/t\($0.threads)/\($0.numa)" }
        for (setup, cells) in setups.sorted(by: { $0.key < $1.key }) {
            var byDepth: [Int: Double] = [:]
            for c in cells { if let f = c.fillSeconds, f > 0, c.nDepth > 0 { byDepth[c.nDepth] = f } }  // depth 0 is a reset
            var previous = 0, cumulative = 0.0
            for depth in byDepth.keys.sorted() {
                let segment = byDepth[depth]!
                cumulative += segment
                rows.append([setup, String(previous), String(depth), String(format: "%.6f", segment),
                             String(format: "%.3f", Double(depth - previous) / segment), String(format: "%.6f", cumulative),
                             String(format: "%.3f", Double(depth) / cumulative)])
                previous = depth
            }
        }
        return rows
    }

    public func close() {
        try? samples?.close()
        try? cellLog?.close()
    }
}
