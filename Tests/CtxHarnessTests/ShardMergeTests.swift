import Foundation
import Testing
@testable import CtxHarness

/// `ctxbench merge`: shards of a tiny suite, run for real by the runner, joined into the grid of the
/// unsharded suite, and every bad combination refused with nothing written.
@Suite struct ShardMergeTests {
    static let suite = """
    { name: "merge-test",
      models: [{ preset: "step-3.5-mini", set: { layerCount: 2, hiddenSize: 128, vocabSize: 256, fullHeads: 2,
        slidingHeads: 2, kvHeads: 1, slidingWindow: 16, denseIntermediate: 256, experts: 8, expertsPerToken: 2,
        expertIntermediate: 64, sharedIntermediate: 64 } }],
      weightTypes: ["q8_0"], threads: [1],
      tests: { pp: [8], tg: [2], depths: [0, 24, 48] },
      fill: "computed", warmup: 0, repetitions: 2 }
    """

    /// Runs shard `shard` of `text` into `dir`.
    static func runShard(_ text: String, _ shard: (Int, Int)?, into dir: URL) throws {
        let plan = SuitePlan(suite: try Suite.parse(text, file: "merge-test.json5"), shard: shard)
        _ = try SuiteRunnerTests.run(plan, file: "merge-test.json5", into: dir)
    }

    /// A copy of run directory `from` at `to`, with run.json edited by `edit`.
    static func copy(_ from: URL, to: URL, edit: (inout RunMetadata) -> Void = { _ in }) throws {
        try FileManager.default.copyItem(at: from, to: to)
        let directory = RunDirectory(existing: to.path)
        var metadata = try directory.readMetadata()
        edit(&metadata)
        try directory.writeMetadata(metadata)
    }

    static func refusal(_ paths: [URL], allow: Bool = false) -> String? {
        do { _ = try ShardMerge(paths: paths.map(\.path), allowHardwareMismatch: allow); return nil } catch {
            return "\(error)"
        }
    }

    @Test func shardsMergeIntoTheGridAndBadSetsAreRefused() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-merge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let s0 = work.appendingPathComponent("s0"), s1 = work.appendingPathComponent("s1")
        try Self.runShard(Self.suite, (0, 2), into: s0)
        try Self.runShard(Self.suite, (1, 2), into: s1)

        // Merged: every planned cell once, in plan order, with its samples, readable by reports.
        let merged = work.appendingPathComponent("merged")
        let merge = try ShardMerge(paths: [s0.path, s1.path], allowHardwareMismatch: false)
        try merge.write(to: merged.path, commandLine: ["ctxbench", "merge"])
        let suite = try Suite.parse(Self.suite, file: "merge-test.json5")
        let plan = SuitePlan(suite: suite)
        let run = try LoadedRun.load(merged.path)
        #expect(run.cells.map(\.cellID) == plan.cells.map { $0.id(in: suite) })
        #expect(run.metadata.status == "complete" && run.metadata.shard == nil && run.metadata.cellsPlanned == 6)
        #expect(run.metadata.mergedFrom?.map(\.shard) == ["0/2", "1/2"])
        let shardCells = RunDirectory(existing: s0.path).finishedCells() + RunDirectory(existing: s1.path).finishedCells()
        for cell in run.cells { #expect(shardCells.contains(cell)) }  // carried over unchanged
        let samples = try String(contentsOf: merged.appendingPathComponent("samples.jsonl"), encoding: .utf8).split(separator: "\n")
        let shardSamples = try [s0, s1].flatMap { try String(contentsOf: $0.appendingPathComponent("samples.jsonl"), encoding: .utf8).split(separator: "\n") }
        #expect(samples.count == 12 && Set(samples) == Set(shardSamples))
        #expect(!Report(runs: [run]).tables.isEmpty)
        // Ladder segments as each shard measured them.
        let ladder = try CSVCodec.parse(String(contentsOf: merged.appendingPathComponent("ladder.csv"), encoding: .utf8))
        let shardLadders = try [s0, s1].flatMap { try CSVCodec.parse(String(contentsOf: $0.appendingPathComponent("ladder.csv"), encoding: .utf8)).dropFirst() }
        #expect(Array(ladder.dropFirst()) == shardLadders)
        // Never over an existing run.
        #expect(throws: RunDirectory.Refusal.self) { try merge.write(to: merged.path, commandLine: []) }

        // Refused, naming the problem.
        let overlap = work.appendingPathComponent("s0-copy")
        try FileManager.default.copyItem(at: s0, to: overlap)
        #expect(Self.refusal([s0, s1, overlap])?.contains("3 cell(s) are in more than one shard") == true)
        #expect(Self.refusal([s0])?.contains("3 of 6 cell(s) are in no shard") == true)
        #expect(Self.refusal([s0])?.contains("shard(s) not given: 1/2") == true)
        let unfinished = work.appendingPathComponent("s1-interrupted")
        try Self.copy(s1, to: unfinished) { $0.status = "interrupted" }
        let lines = try String(contentsOf: unfinished.appendingPathComponent("cells.jsonl"), encoding: .utf8).split(separator: "\n")
        try (lines.dropLast().joined(separator: "\n") + "\n").write(to: unfinished.appendingPathComponent("cells.jsonl"), atomically: true, encoding: .utf8)
        let message = Self.refusal([s0, unfinished])
        #expect(message?.contains("1 of 6 cell(s) are in no shard") == true && message?.contains("--resume") == true
                && message?.contains("s1-interrupted (interrupted)") == true)
        let otherBuild = work.appendingPathComponent("s1-other-build")
        try Self.copy(s1, to: otherBuild) { $0.platform.gitCommit = "0123456789ab" }
        #expect(Self.refusal([s0, otherBuild])?.contains("was run by another build") == true)
        let otherHost = work.appendingPathComponent("s1-other-hardware")
        try Self.copy(s1, to: otherHost) { $0.platform.cpuModel = "Another CPU" }
        #expect(Self.refusal([s0, otherHost])?.contains("ran on other hardware") == true)
        let lostSample = work.appendingPathComponent("s1-lost-sample")
        try FileManager.default.copyItem(at: s1, to: lostSample)
        let sampleLines = try String(contentsOf: lostSample.appendingPathComponent("samples.jsonl"), encoding: .utf8).split(separator: "\n")
        try (sampleLines.dropFirst().joined(separator: "\n") + "\n").write(to: lostSample.appendingPathComponent("samples.jsonl"), atomically: true, encoding: .utf8)
        #expect(Self.refusal([s0, lostSample])?.contains("holds 1 sample(s)") == true)
        // Another suite: the same grid with one more repetition is another plan.
        let otherSuite = work.appendingPathComponent("other-suite")
        try Self.runShard(Self.suite.replacingOccurrences(of: "tests: { pp: [8], tg: [2], depths: [0, 24, 48] }", with: "tests: { pp: [8], tg: [2], depths: [0] }"),
                          (1, 2), into: otherSuite)
        #expect(Self.refusal([s0, otherSuite])?.contains("ran another suite") == true)
        // Different hardware, allowed: merged and recorded.
        let mixed = work.appendingPathComponent("mixed")
        try ShardMerge(paths: [s0.path, otherHost.path], allowHardwareMismatch: true).write(to: mixed.path, commandLine: [])
        #expect(try RunDirectory(existing: mixed.path).readMetadata().hardwareMismatchAllowed == true)
    }
}
