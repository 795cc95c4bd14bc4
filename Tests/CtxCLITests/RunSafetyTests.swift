import Foundation
import Testing
@testable import CtxHarness

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `run`, `--resume` and `report` must never do to a user's data, tried on real processes.
@Suite(.serialized) struct RunSafetyTests {
    typealias R = RunResumeTests

    /// Runs ctxbench to the end: exit status and stderr.
    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> (status: Int32, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: R.binary!)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        if let directory { process.currentDirectoryURL = directory }
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Every file of a directory and its bytes (but the lock, which names whoever last held it).
    static func snapshot(_ directory: URL) -> [String: Data] {
        var out: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where name != RunDirectory.lockFile {
            out[name] = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path)
        }
        return out
    }

    static func setUp() throws -> (work: URL, suite: URL) {
        let work = try R.temporaryDirectory()
        let suite = work.appendingPathComponent("resume-test.json5")
        try R.suite.write(to: suite, atomically: true, encoding: .utf8)
        return (work, suite)
    }

    @Test func anExistingRunIsNeverOverwritten() throws {
        guard R.binary != nil else { Issue.record("ctxbench binary not found"); return }
        let (work, suite) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: work) }
        let done = work.appendingPathComponent("done")
        #expect(try Self.run(["run", suite.path, "--out", done.path, "--no-calibrate", "--quiet"]).status == 0)
        let before = Self.snapshot(done)
        // Into a finished run: refused, every file byte for byte as it was.
        let again = try Self.run(["run", suite.path, "--out", done.path, "--no-calibrate", "--quiet"])
        #expect(again.status == 1)
        #expect(again.err.contains("holds a run (status complete, 12 of 12 cells); continue it with --resume"))
        #expect(Self.snapshot(done) == before)
        // Into any non-empty directory: refused.
        let other = work.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: other.appendingPathComponent("notes.txt"))
        #expect(try Self.run(["run", suite.path, "--out", other.path, "--no-calibrate", "--quiet"]).err.contains("is not empty"))
        #expect(Self.snapshot(other).keys.sorted() == ["notes.txt"])
        // --force moves the old run aside, whole, and starts afresh.
        let forced = try Self.run(["run", suite.path, "--out", done.path, "--no-calibrate", "--quiet", "--force"])
        #expect(forced.status == 0)
        let aside = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix("done.moved-") }
        #expect(aside.count == 1)
        #expect(Self.snapshot(work.appendingPathComponent(aside.first ?? "?")) == before)
        // A report never writes into a run directory, and replaces an earlier report only with --force.
        let reportOverRun = try Self.run(["report", done.path, "--out", done.path, "--format", "csv"])
        #expect(reportOverRun.status == 1 && reportOverRun.err.contains("is a run directory"))
        let report = work.appendingPathComponent("report")
        #expect(try Self.run(["report", done.path, "--out", report.path]).status == 0)
        let reportAgain = try Self.run(["report", done.path, "--out", report.path])
        #expect(reportAgain.status == 1 && reportAgain.err.contains("add --force to replace"))
        #expect(try Self.run(["report", done.path, "--out", report.path, "--force"]).status == 0)
    }

    /// The engine reads CTXBENCH_REGROUPED_PREFETCH where it cannot report a bad value: the CLI
    /// refuses one before any command runs, in a process of its own (the variable is the process's).
    @Test func aBadPrefetchDistanceIsOneClearError() throws {
        guard R.binary != nil else { Issue.record("ctxbench binary not found"); return }
        for bad in ["4k", "-1", "70000", ""] {
            let result = try Self.run(["platform"], environment: ["CTXBENCH_REGROUPED_PREFETCH": bad])
            #expect(result.status == 64)
            #expect(result.err == "error: CTXBENCH_REGROUPED_PREFETCH must be a byte count from 0 to 65536 (0: no software "
                    + "prefetch in the regrouped decode GEMVs), got '\(bad)'. See 'ctxbench platform --help'.\n")
        }
        #expect(try Self.run(["platform"], environment: ["CTXBENCH_REGROUPED_PREFETCH": "0"]).status == 0)
    }

    @Test func resumeRefusesAnotherPlanAndWorksFromAnyDirectory() throws {
        guard R.binary != nil else { Issue.record("ctxbench binary not found"); return }
        let (work, suite) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = work.appendingPathComponent("run")
        let first = try R.start(["run", suite.path, "--out", run.path, "--no-calibrate", "--quiet", "--shard", "0/2"])
        R.waitForCells(run, 2, process: first)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let before = Self.snapshot(run)
        // Another suite, another shard: refused, nothing touched.
        let edited = work.appendingPathComponent("edited.json5")
        try R.suite.replacingOccurrences(of: "repetitions: 3", with: "repetitions: 4").write(to: edited, atomically: true, encoding: .utf8)
        let otherSuite = try Self.run(["run", edited.path, "--resume", run.path, "--no-calibrate", "--quiet"])
        #expect(otherSuite.status == 1 && otherSuite.err.contains("is not the suite this run started with"))
        let otherShard = try Self.run(["run", "--resume", run.path, "--shard", "1/2", "--no-calibrate", "--quiet"])
        #expect(otherShard.status == 1 && otherShard.err.contains("this run is shard 0/2, not shard 1/2"))
        #expect(Self.snapshot(run) == before)
        // The suite file edited since: resuming (from another working directory) finishes the recorded plan.
        try R.suite.replacingOccurrences(of: "depths: [0, 64, 128]", with: "depths: [0, 64]").write(to: suite, atomically: true, encoding: .utf8)
        let elsewhere = try R.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let resumed = try Self.run(["run", "--resume", run.path, "--no-calibrate"], in: elsewhere)
        #expect(resumed.status == 0)
        #expect(resumed.err.contains("changed since this run started; resuming the suite as recorded"))
        let cells = R.cellIDs(run)
        #expect(cells.count == 6 && Set(cells).count == 6)
        // Finished cells' samples were all kept; samples of the killed cell moved aside, not deleted.
        let samples = R.lines(run.appendingPathComponent("samples.jsonl").path)
        #expect(samples.count == 6 * 3)
    }

    @Test func sigtermInterruptsLikeCtrlC() throws {
        guard R.binary != nil else { Issue.record("ctxbench binary not found"); return }
        let (work, suite) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = work.appendingPathComponent("run")
        let process = try R.start(["run", suite.path, "--out", run.path, "--no-calibrate", "--quiet"])
        R.waitForCells(run, 3, process: process)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 143)
        let metadata = try RunDirectory(existing: run.path).readMetadata()
        #expect(metadata.status == "interrupted")
        #expect(try Self.run(["run", "--resume", run.path, "--no-calibrate", "--quiet"]).status == 0)
        #expect(Set(R.cellIDs(run)).count == 12)
    }

    /// Killed at random points ten times, resumed each time, with a second run into the same
    /// directory tried while one runs: in the end every cell once and every sample once.
    @Test func killedAtRandomAndResumedLosesNothing() throws {
        guard R.binary != nil else { Issue.record("ctxbench binary not found"); return }
        let (work, suite) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = work.appendingPathComponent("run")
        var generator = SystemRandomNumberGenerator()
        var arguments = ["run", suite.path, "--out", run.path, "--no-calibrate", "--quiet"]
        var intruderRefused = 0
        for round in 0..<10 {
            let process = try R.start(arguments)
            arguments = ["run", "--resume", run.path, "--no-calibrate", "--quiet"]
            usleep(UInt32.random(in: 150_000...900_000, using: &generator))
            if round % 3 == 0, process.isRunning {
                // A second writer while the first holds the directory: refused with the holder's pid.
                let intruder = try Self.run(["run", "--resume", run.path, "--no-calibrate", "--quiet"])
                if process.isRunning {
                    #expect(intruder.status == 1)
                    #expect(intruder.err.contains("is in use by another ctxbench run (pid \(process.processIdentifier) on host"))
                    intruderRefused += 1
                }
            }
            kill(process.processIdentifier, [SIGKILL, SIGINT, SIGTERM][round % 3])
            process.waitUntilExit()
            if R.cellIDs(run).count == 12 { break }
        }
        #expect(intruderRefused >= 1)
        if R.cellIDs(run).count < 12 {
            #expect(try Self.run(arguments).status == 0)
        }
        let cells = R.lines(run.appendingPathComponent("cells.jsonl").path)
        #expect(cells.count == 12 && Set(R.cellIDs(run)).count == 12)
        let samples = R.lines(run.appendingPathComponent("samples.jsonl").path).compactMap {
            try? JSONFormat.decode(RunDirectory.SampleLine.self, from: Data($0.utf8))
        }
        #expect(samples.count == 12 * 3)
        #expect(Dictionary(grouping: samples, by: \.cellID).values.allSatisfy { $0.map(\.repetition).sorted() == [0, 1, 2] })
        #expect(RunDirectory(existing: run.path).finishedCells().allSatisfy { $0.status == .ok })
    }
}
