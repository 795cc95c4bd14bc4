import CtxEngine
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// SHA-256 of the suite as parsed (`suite`): resume and merge compare plans by it.
    public var suiteHash: String? = nil
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
    /// The test-only extra-work knob (CTXBENCH_TEST_EXTRA_WORK) this run was made with, if any.
    public var testExtraWork: Double? = nil
    /// The llama.cpp builds that ran cells of this run, per engine label, as llama-bench reported them.
    public var llamaCpp: [LlamaCppBuild]? = nil
    /// A run made by `ctxbench merge`: the shard directories it joined.
    public var mergedFrom: [ShardMerge.Source]? = nil
    /// Set when `merge --allow-hardware-mismatch` joined shards of different hardware fingerprints
    /// (`platform` is then the first shard's).
    public var hardwareMismatchAllowed: Bool? = nil

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
///   run.lock        held (flock) by the process writing the run: a second writer is refused
///   discarded-samples.jsonl   samples of cells a killed run did not finish, moved here on resume
///
/// A directory is written only by the process holding its lock, and never emptied: a new run goes
/// into a new or empty directory (or one moved aside, never deleted, with `force`).
public final class RunDirectory: @unchecked Sendable {
    public let path: String
    private var samples: FileHandle?
    private var cellLog: FileHandle?
    private var lockDescriptor: Int32 = -1

    /// A directory to read (nothing is created, no lock taken).
    public init(existing path: String) { self.path = path }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    public static let lockFile = "run.lock"

    /// Why a directory cannot be written: it holds another run, or another process writes it.
    public struct Refusal: Error, CustomStringConvertible, Equatable {
        public let message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    /// A new run directory at `path`, locked. `path` must not exist or be empty; with `force`, a
    /// non-empty one (not in use) is renamed to `<path>.moved-<UTC time>` first, never deleted.
    /// Returns where an old directory was moved.
    public static func create(path: String, force: Bool) throws -> (RunDirectory, movedAside: String?) {
        var moved: String? = nil
        switch FileError.kind(of: path) {
        case nil: break
        case .directory:
            if try !isEmpty(path) {
                let old = RunDirectory(existing: path)
                try old.lock(onlyIfPresent: true)  // refuses a directory another run is writing
                old.unlock()
                guard force else {
                    let what = holdsRun(path) ? "holds a run" + old.summary() : "is not empty"
                    throw Refusal(message: "\(path) \(what); continue it with --resume \(path), choose another --out, "
                                  + "or add --force to move it aside (it is renamed, never deleted)")
                }
                let target = path.hasSuffix("/") ? String(path.dropLast()) : path
                let aside = "\(target).moved-\(timestampForNames())"
                guard rename(target, aside) == 0 else { throw FileError("move aside", path, reason: String(cString: strerror(errno))) }
                moved = aside
            }
        case .regular, .other:
            throw Refusal(message: "\(path) exists and is not a directory; choose another --out")
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw FileError("create the directory", path, error)
        }
        let directory = RunDirectory(existing: path)
        try directory.lock()
        // Another process may have written here between the check and the lock.
        if try !isEmpty(path, ignoring: [lockFile]) {
            directory.unlock()
            throw Refusal(message: "\(path) was written by another process while this run started; choose another --out")
        }
        return (directory, moved)
    }

    /// An existing run directory to continue, locked.
    public static func resume(path: String) throws -> RunDirectory {
        guard holdsRun(path) else { throw Refusal(message: "--resume: '\(path)' is not a ctxbench run directory (no run.json)") }
        let directory = RunDirectory(existing: path)
        try directory.lock()
        return directory
    }

    /// Takes the directory's lock (flock on run.lock, released when the process ends however it
    /// ends), writing who holds it; refuses with the holder's pid and host when it is taken.
    /// `onlyIfPresent`: only test a lock that exists (nothing is created in a directory that is
    /// not a run).
    func lock(onlyIfPresent: Bool = false) throws {
        let lockPath = file(Self.lockFile)
        let fd = open(lockPath, O_RDWR | O_CLOEXEC | (onlyIfPresent ? 0 : O_CREAT), 0o644)
        guard fd >= 0 else {
            if onlyIfPresent && errno == ENOENT { return }
            throw FileError("open", lockPath, reason: String(cString: strerror(errno)))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            closeDescriptor(fd)
            throw Refusal(message: "\(path) is in use by another ctxbench run (\(holder.map { $0.isEmpty ? "holder unknown" : $0 } ?? "holder unknown")); "
                          + "wait for it to finish, or stop it first")
        }
        lockDescriptor = fd
        if onlyIfPresent { return }
        let me = "pid \(getpid()) on host \(ProcessInfo.processInfo.hostName) since \(SuiteRunner.timestamp())\n"
        _ = ftruncate(fd, 0)
        _ = me.withCString { write(fd, $0, strlen($0)) }
    }

    func unlock() {
        guard lockDescriptor >= 0 else { return }
        flock(lockDescriptor, LOCK_UN)
        closeDescriptor(lockDescriptor)
        lockDescriptor = -1
    }

    deinit { unlock() }

    static func isEmpty(_ path: String, ignoring: Set<String> = []) throws -> Bool {
        do { return try FileManager.default.contentsOfDirectory(atPath: path).allSatisfy { ignoring.contains($0) } } catch {
            throw FileError("list", path, error)
        }
    }

    /// " (status complete, 12 cells)" for messages about an existing run.
    func summary() -> String {
        guard let m = try? readMetadata() else { return "" }
        return " (status \(m.status), \(finishedCells().count) of \(m.cellsPlanned) cells)"
    }

    /// A UTC time with milliseconds for directory names: 20261130T014218.123Z.
    public static func timestampForNames(_ date: Date = Date()) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "en_US_POSIX")
        return f.string(from: date)
    }

    /// Opens the append-only logs (the lock must be held). On resume, sample lines of cells that
    /// did not finish (and a torn last line from a kill) are moved to discarded-samples.jsonl, so a
    /// re-run cell's samples are not counted twice and nothing is deleted; every finished cell's
    /// lines stay.
    public func openLogs(keepingSamplesOf finished: Set<String>) throws {
        precondition(lockDescriptor >= 0, "openLogs without the run's lock")
        for name in ["samples.jsonl", "cells.jsonl"] {
            let url = file(name)
            if !FileManager.default.fileExists(atPath: url) {
                guard FileManager.default.createFile(atPath: url, contents: nil) else {
                    throw FileError("create", url, reason: String(cString: strerror(errno)))
                }
                continue
            }
            let text: String
            do { text = try String(contentsOfFile: url, encoding: .utf8) } catch { throw FileError("read", url, error) }
            var kept: [Substring] = [], dropped: [Substring] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let cell = object["cellID"] as? String, finished.contains(cell) {
                    kept.append(line)
                } else {
                    dropped.append(line)
                }
            }
            guard !dropped.isEmpty else { continue }
            let aside = file(name == "samples.jsonl" ? "discarded-samples.jsonl" : "discarded-cells.jsonl")
            try AppendedFile.append(dropped.map { $0 + "\n" }.joined(), to: aside)
            try AtomicFile.write(kept.map { $0 + "\n" }.joined(), to: url)
        }
        samples = FileHandle(forWritingAtPath: file("samples.jsonl"))
        cellLog = FileHandle(forWritingAtPath: file("cells.jsonl"))
        guard samples != nil, cellLog != nil else { throw FileError("open", path, reason: "the run's logs cannot be opened for writing") }
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
        do {
            try handle.write(contentsOf: data + Data("\n".utf8))
            try handle.synchronize()
        } catch { throw FileError("append to", path, error) }
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

    /// run.json, or an error naming it and what is wrong with it.
    public func readMetadata() throws -> RunMetadata {
        let url = file(Self.metadataFile)
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: url)) } catch { throw FileError("read", url, error) }
        do { return try JSONFormat.decode(RunMetadata.self, from: data) } catch {
            throw FileError("read", url, reason: "not a ctxbench run.json (\(Self.decodingProblem(error)))")
        }
    }

    /// A decoding error as a short phrase: the field path and what was wrong.
    static func decodingProblem(_ error: Error) -> String {
        func path(_ keys: [CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }
        switch error as? DecodingError {
        case let .keyNotFound(key, c)?: return "missing field '\(path(c.codingPath + [key]))'"
        case let .typeMismatch(_, c)?: return "field '\(path(c.codingPath))': \(c.debugDescription)"
        case let .valueNotFound(_, c)?: return "field '\(path(c.codingPath))' is null"
        case let .dataCorrupted(c)?: return c.codingPath.isEmpty ? "not valid JSON" : "field '\(path(c.codingPath))': \(c.debugDescription)"
        default: return "\(error)"
        }
    }

    public func writeTables(cells: [CellResult], title: String) throws {
        try writeTables(cells: cells, title: title, ladder: nil)
    }

    /// `ladder`: the ladder rows to write (a merge carries each shard's over); nil: computed from `cells`.
    public func writeTables(cells: [CellResult], title: String, ladder: [[String]]?) throws {
        let ordered = cells.sorted { $0.cellIndex < $1.cellIndex }
        try AtomicFile.write(ResultSchema.cellsCSV(ordered), to: file("cells.csv"))
        try AtomicFile.write(ResultSchema.opsCSV(ordered.flatMap(\.ops)), to: file("ops.csv"))
        try AtomicFile.write(ResultSchema.summaryMarkdown(ordered, title: title), to: file("summary.md"))
        let ladder = ladder ?? Self.ladderRows(ordered)
        if !ladder.isEmpty {
            try AtomicFile.write(ResultSchema.ladderCSV(ladder), to: file("ladder.csv"))
        }
    }

    /// Computed-fill segments per setup: the prefill from one depth of the ladder to the next, and
    /// S_PP(N) = N / (time to fill N tokens from empty), llama-batched-bench's prefill curve.
    static func ladderRows(_ cells: [CellResult]) -> [[String]] {
        var rows: [[String]] = []
        let computed = cells.filter { $0.fill == "computed" && $0.status == .ok }
        let setups = Dictionary(grouping: computed) {
            ($0.engine.map { $0 == "ctxbench" ? "" : $0 + "/" } ?? "") + "\($0.model)/\($0.weightType)/\($0.cacheType)/t\($0.threads)/\($0.numa)"
        }
        for (setup, cells) in setups.sorted(by: { $0.key < $1.key }) {
            // Fills whose start the engine gives (llama-batched-bench: from empty), each its own row.
            var fromEmpty: [Int: Double] = [:]
            for c in cells { if let f = c.fillSeconds, f > 0, c.nDepth > 0, c.fillFromDepth == 0, fromEmpty[c.nDepth] == nil { fromEmpty[c.nDepth] = f } }
            for depth in fromEmpty.keys.sorted() {
                let seconds = fromEmpty[depth]!, rate = String(format: "%.3f", Double(depth) / seconds)
                rows.append([setup, "0", String(depth), String(format: "%.6f", seconds), rate, String(format: "%.6f", seconds), rate])
            }
            // The ladder: each depth filled from the previous one.
            var byDepth: [Int: Double] = [:]
            for c in cells where c.fillFromDepth == nil { if let f = c.fillSeconds, f > 0, c.nDepth > 0 { byDepth[c.nDepth] = f } }  // depth 0 is a reset
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
        samples = nil
        cellLog = nil
        unlock()
    }
}

/// close(2), named apart from FileHandle's and RunDirectory's own `close`.
private func closeDescriptor(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}
