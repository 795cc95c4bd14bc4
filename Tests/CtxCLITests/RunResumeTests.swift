import Foundation
import Testing
@testable import CtxHarness

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The runner as users run it: a real `ctxbench` process, killed mid-sweep and resumed.
@Suite(.serialized) struct RunResumeTests {
    /// The ctxbench binary built beside the test bundle.
    static var binary: String? {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = url.appendingPathComponent("ctxbench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url.deleteLastPathComponent()
        }
        return nil
    }

    static let suite = """
    // A small grid with a pause between cells, so a kill lands mid-sweep. The model is shrunk
    // further than the mini preset because the tests run a debug build (about 7 s a sweep).
    { name: "resume-test",
      models: [{ preset: "kimi-linear-mini", set: { layerCount: 2, hiddenSize: 128, vocabSize: 256,
        kdaHeads: 2, mlaHeads: 2, denseIntermediate: 256, experts: 8, expertsPerToken: 2,
        expertIntermediate: 64, sharedIntermediate: 64 } }],
      weightTypes: ["q8_0", "q4_0"], threads: [1],
      tests: { pp: [16], tg: [4], depths: [0, 64, 128] },
      warmup: 0, repetitions: 3, delaySeconds: 0.15 }
    """

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary!)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static func cellIDs(_ directory: URL) -> [String] {
        RunDirectory(existing: directory.path).finishedCells().map(\.cellID)
    }

    /// Waits until cells.jsonl has at least `count` lines (or the process ends).
    static func waitForCells(_ directory: URL, _ count: Int, process: Process) {
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline && process.isRunning {
            if lines(directory.appendingPathComponent("cells.jsonl").path).count >= count { return }
            usleep(20_000)
        }
    }

    @Test(arguments: [SIGKILL, SIGINT])
    func killedRunResumesToTheSameCells(signal: Int32) throws {
        guard Self.binary != nil else {
            Issue.record("ctxbench binary not found beside the tests")
            return
        }
        let work = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let suiteFile = work.appendingPathComponent("resume-test.json5")
        try Self.suite.write(to: suiteFile, atomically: true, encoding: .utf8)
        let killed = work.appendingPathComponent("killed"), straight = work.appendingPathComponent("straight")

        let first = try Self.start(["run", suiteFile.path, "--out", killed.path, "--no-calibrate", "--quiet"])
        Self.waitForCells(killed, 4, process: first)
        #expect(first.isRunning, "the run finished before it could be interrupted")
        kill(first.processIdentifier, signal)
        first.waitUntilExit()
        let interruptedCells = Self.cellIDs(killed)
        #expect(interruptedCells.count >= 4 && interruptedCells.count < 12)
        if signal == SIGINT {
            #expect(first.terminationStatus == 130)
            #expect(Self.lines(killed.appendingPathComponent("run.json").path).joined().contains("\"interrupted\""))
            // A report of the unfinished run says how much of its plan it holds.
            let partial = work.appendingPathComponent("partial-report")
            let report = try RunSafetyTests.run(["report", killed.path, "--out", partial.path])
            #expect(report.status == 0, "\(report.err)")
            let text = (try? String(contentsOf: partial.appendingPathComponent("report.md"), encoding: .utf8)) ?? ""
            #expect(text.contains("\(interruptedCells.count) of 12 planned cells (status interrupted)"), "\(text.prefix(600))")
        }

        let resumed = try Self.start(["run", "--resume", killed.path, "--no-calibrate", "--quiet"])
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0)
        let complete = try Self.start(["run", suiteFile.path, "--out", straight.path, "--no-calibrate", "--quiet"])
        complete.waitUntilExit()
        #expect(complete.terminationStatus == 0)

        // Same cells, none twice, every cell's samples exactly once.
        let resumedCells = Self.lines(killed.appendingPathComponent("cells.jsonl").path)
        #expect(resumedCells.count == 12)
        #expect(Set(Self.cellIDs(killed)) == Set(Self.cellIDs(straight)))
        #expect(Set(Self.cellIDs(killed)).count == 12)
        let samples = Self.lines(killed.appendingPathComponent("samples.jsonl").path).compactMap {
            try? JSONFormat.decode(RunDirectory.SampleLine.self, from: Data($0.utf8))
        }
        #expect(samples.count == 12 * 3)
        #expect(Dictionary(grouping: samples, by: \.cellID).values.allSatisfy { $0.map(\.repetition).sorted() == [0, 1, 2] })
        let csv = try CSVCodec.parse(String(contentsOf: killed.appendingPathComponent("cells.csv"), encoding: .utf8))
        #expect(csv.count == 13)
        #expect(RunDirectory(existing: killed.path).finishedCells().allSatisfy { $0.status == .ok })
    }
}
