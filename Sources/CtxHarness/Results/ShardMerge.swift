import Foundation

/// Joins the run directories of one suite's shards (`ctxbench run --shard i/n`, one per machine or
/// cluster task) into one run directory that report, compare and gate read like any other.
///
/// Everything is checked before anything is written: the shards come from the same suite (content
/// hash), the same build, and hardware of the same fingerprint (unless allowed, and then recorded);
/// together they hold every cell of the grid exactly once; each ok cell's samples are all in its
/// shard's samples.jsonl. A merge that fails any check writes nothing. Cells, samples, ops and
/// ladder segments are carried over unchanged.
public struct ShardMerge {
    /// One input shard as recorded in the merged run.json.
    public struct Source: Codable, Sendable, Equatable {
        public var path: String
        public var shard: String?
        public var hostname: String
        public var hardwareKey: String
        public var status: String
        public var startedAt: String
        public var finishedAt: String?
        public var cells: Int
    }

    /// Why shards cannot be merged; nothing was written.
    public struct Refusal: Error, CustomStringConvertible {
        public let problems: [String]
        public var description: String {
            "merge refused, nothing written:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        }
    }

    struct Shard {
        var path: String
        var metadata: RunMetadata
        var cells: [CellResult]
        var sampleLines: [String: [Substring]]
    }

    let shards: [Shard]
    /// Index in `shards` of the shard that holds each cell.
    let owner: [String: Int]
    let allowHardwareMismatch: Bool
    /// The full grid's cell ids in plan order, and the merged cells in that order.
    public let planned: [String]
    public let cells: [CellResult]
    public let failed: [CellResult]

    /// Reads and checks `paths`; throws a `Refusal` listing every problem found.
    public init(paths: [String], allowHardwareMismatch: Bool) throws {
        self.allowHardwareMismatch = allowHardwareMismatch
        var problems: [String] = []
        var shards: [Shard] = []
        guard !paths.isEmpty else { throw Refusal(problems: ["no shard directories given"]) }
        var seenPaths = Set<String>()
        for path in paths {
            let canonical = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            guard seenPaths.insert(canonical).inserted else { problems.append("\(path) is given twice"); continue }
            guard RunDirectory.holdsRun(path) else { problems.append("\(path) is not a run directory (no run.json)"); continue }
            let directory = RunDirectory(existing: path)
            do {
                // A shard another process is still writing (a task still running) is not merged.
                try directory.lock(onlyIfPresent: true)
                defer { directory.unlock() }
                let metadata = try directory.readMetadata()
                if metadata.source != nil {
                    problems.append("\(path) is an imported \(metadata.source!) run, not a ctxbench shard")
                    continue
                }
                shards.append(Shard(path: path, metadata: metadata, cells: directory.finishedCells(),
                                    sampleLines: try Self.sampleLines(directory)))
            } catch {
                problems.append("\(error)")
            }
        }
        guard problems.isEmpty, let first = shards.first else { throw Refusal(problems: problems) }

        // Same suite, build and hardware.
        func hash(_ m: RunMetadata) -> String { m.suiteHash ?? SHA256.hex(m.suite) }
        for shard in shards.dropFirst() {
            if hash(shard.metadata) != hash(first.metadata) {
                problems.append("\(shard.path) ran another suite (\(shard.metadata.suiteName), hash \(hash(shard.metadata).prefix(12))) "
                                + "than \(first.path) (\(first.metadata.suiteName), hash \(hash(first.metadata).prefix(12)))")
            }
            if shard.metadata.buildKey != first.metadata.buildKey {
                problems.append("\(shard.path) was run by another build (\(shard.metadata.buildKey)) than \(first.path) (\(first.metadata.buildKey))")
            }
            if shard.metadata.platform.hardwareKey != first.metadata.platform.hardwareKey && !allowHardwareMismatch {
                problems.append("\(shard.path) ran on other hardware (\(shard.metadata.platform.hardwareKey)) than \(first.path) "
                                + "(\(first.metadata.platform.hardwareKey)); add --allow-hardware-mismatch to merge them anyway (it is recorded)")
            }
        }
        guard problems.isEmpty else { throw Refusal(problems: problems) }

        // Coverage: every planned cell exactly once, nothing outside the plan.
        let suite: Suite
        do { suite = try Suite.parse(first.metadata.suite, file: first.metadata.suiteFile) } catch {
            throw Refusal(problems: ["\(first.path)/run.json holds a suite this version cannot read (\(error))"])
        }
        let plan = SuitePlan(suite: suite)
        planned = plan.cells.map { $0.id(in: suite) }
        let plannedSet = Set(planned)
        var owner: [String: Int] = [:]
        var byID: [String: CellResult] = [:]
        var twice: [String] = [], stray: [String] = []
        for (index, shard) in shards.enumerated() {
            for cell in shard.cells {
                if !plannedSet.contains(cell.cellID) { stray.append("\(cell.cellID) (\(shard.path))"); continue }
                if let other = owner[cell.cellID] { twice.append("\(cell.cellID) (\(shards[other].path) and \(shard.path))"); continue }
                owner[cell.cellID] = index
                byID[cell.cellID] = cell
                // Every ok cell's repetitions are in its shard's samples, once each.
                let lines = shard.sampleLines[cell.cellID]?.count ?? 0
                if cell.status == .ok && lines != cell.samplesNs.count {
                    problems.append("\(shard.path)/samples.jsonl holds \(lines) sample(s) of \(cell.cellID), which has \(cell.samplesNs.count) repetitions")
                }
            }
        }
        if !twice.isEmpty { problems.append("\(twice.count) cell(s) are in more than one shard: " + Self.list(twice)) }
        if !stray.isEmpty { problems.append("\(stray.count) cell(s) are not in the suite's grid: " + Self.list(stray)) }
        let missing = planned.filter { byID[$0] == nil }
        if !missing.isEmpty {
            var message = "\(missing.count) of \(planned.count) cell(s) are in no shard: " + Self.list(missing)
            let unfinished = shards.filter { $0.metadata.status != "complete" }
            if !unfinished.isEmpty {
                message += "; unfinished shard(s), continue each with `ctxbench run --resume DIR`: "
                    + unfinished.map { "\($0.path) (\($0.metadata.status))" }.joined(separator: ", ")
            } else {
                let given = Set(shards.compactMap(\.metadata.shard))
                if let count = shards.compactMap({ $0.metadata.shard.flatMap(Self.shardCount) }).first {
                    let absent = (0..<count).map { "\($0)/\(count)" }.filter { !given.contains($0) }
                    if !absent.isEmpty { message += "; shard(s) not given: " + absent.joined(separator: ", ") }
                }
            }
            problems.append(message)
        }
        guard problems.isEmpty else { throw Refusal(problems: problems) }
        self.shards = shards
        self.owner = owner
        cells = planned.map { byID[$0]! }
        failed = cells.filter { $0.status != .ok }
    }

    /// Writes the merged run into `out` (new or empty; never over an existing run). `platformName`
    /// names the platform in reports (default: the first shard's CPU model and host).
    public func write(to out: String, commandLine: [String], platformName: String? = nil) throws {
        let (directory, _) = try RunDirectory.create(path: out, force: false)
        defer { directory.close() }
        let first = shards[0].metadata
        var metadata = first
        metadata.tool = "ctxbench \(BuildInfo.version)"
        metadata.commandLine = commandLine
        metadata.shard = nil
        metadata.suiteHash = first.suiteHash ?? SHA256.hex(first.suite)
        metadata.startedAt = shards.map(\.metadata.startedAt).min()!
        metadata.finishedAt = shards.compactMap(\.metadata.finishedAt).max()
        metadata.status = "complete"
        metadata.cellsPlanned = planned.count
        if let platformName { metadata.platformName = platformName }
        metadata.mergedFrom = shards.map { shard in
            Source(path: shard.path, shard: shard.metadata.shard, hostname: shard.metadata.platform.hostname,
                   hardwareKey: shard.metadata.platform.hardwareKey, status: shard.metadata.status,
                   startedAt: shard.metadata.startedAt, finishedAt: shard.metadata.finishedAt, cells: shard.cells.count)
        }
        let keys = Set(shards.map(\.metadata.platform.hardwareKey))
        if keys.count > 1 { metadata.hardwareMismatchAllowed = true }
        // Limits per thread count: the first shard that measured them.
        var limits: [Int: MachineLimits] = [:]
        for shard in shards { for l in shard.metadata.limits where limits[l.threads] == nil { limits[l.threads] = l } }
        metadata.limits = limits.values.sorted { $0.threads < $1.threads }

        // Samples and cells as the shards wrote them, in plan order; the ladder as each shard
        // measured it (a segment's start is the previous depth that shard filled).
        var samples = "", cellLines = ""
        for cell in cells {
            for line in shards[owner[cell.cellID]!].sampleLines[cell.cellID] ?? [] { samples += line + "\n" }
            cellLines += String(decoding: try JSONFormat.encode(cell, pretty: false), as: UTF8.self) + "\n"
        }
        try AtomicFile.write(samples, to: directory.file("samples.jsonl"))
        try AtomicFile.write(cellLines, to: directory.file("cells.jsonl"))
        try directory.writeTables(cells: cells, title: "\(first.suiteName) (merged from \(shards.count) shards)",
                                  ladder: shards.flatMap { RunDirectory.ladderRows($0.cells) })
        try directory.writeMetadata(metadata)
    }

    /// samples.jsonl lines by cell id (complete lines that parse).
    static func sampleLines(_ directory: RunDirectory) throws -> [String: [Substring]] {
        let url = directory.file("samples.jsonl")
        guard FileManager.default.fileExists(atPath: url) else { return [:] }
        let text: String
        do { text = try String(contentsOfFile: url, encoding: .utf8) } catch { throw FileError("read", url, error) }
        var lines: [String: [Substring]] = [:]
        for line in text.split(separator: "\n") {
            guard let sample = try? JSONFormat.decode(RunDirectory.SampleLine.self, from: Data(line.utf8)) else { continue }
            lines[sample.cellID, default: []].append(line)
        }
        return lines
    }

    static func shardCount(_ text: String) -> Int? {
        let parts = text.split(separator: "/")
        return parts.count == 2 ? Int(parts[1]) : nil
    }

    static func list(_ items: [String]) -> String {
        items.prefix(5).joined(separator: ", ") + (items.count > 5 ? ", and \(items.count - 5) more" : "")
    }
}

extension RunMetadata {
    /// What must match for two runs to count as "the same build": ctxbench version, git commit,
    /// compiler, build configuration and ISA flags.
    public var buildKey: String {
        "\(tool) | commit \(platform.gitCommit ?? "unknown") | swift \(platform.swiftCompiler) | \(platform.buildConfiguration) | "
            + platform.buildISA.joined(separator: ",")
    }
}
