import Foundation
import Testing
import CtxEngine
@testable import CtxHarness

/// The runner in process on a tiny model: what it writes must agree with itself.
@Suite struct SuiteRunnerTests {
    static let suite = """
    { name: "runner-test",
      models: [{ preset: "step-3.5-mini", set: { layerCount: 4, hiddenSize: 128, vocabSize: 256, fullHeads: 2,
        slidingHeads: 2, kvHeads: 1, slidingWindow: 16, denseIntermediate: 256, experts: 8, expertsPerToken: 2,
        expertIntermediate: 64, sharedIntermediate: 64 } }],
      weightTypes: ["q8_0"], threads: [1],
      tests: { pp: [8], tg: [4], pg: [[4, 2]], depths: [0, 24, 48] },
      fill: "computed", warmup: 1, repetitions: 3, sessions: 2 }
    """

    /// Runs `plan` quietly into a new run directory at `work`, without calibration unless
    /// `configure` asks for it.
    static func run(_ plan: SuitePlan, file: String, into work: URL,
                    configure: (inout SuiteRunner.Options) -> Void = { _ in }) throws -> SuiteRunner.Outcome {
        var options = SuiteRunner.Options()
        options.calibrate = false
        options.quiet = true
        configure(&options)
        let (directory, _) = try RunDirectory.create(path: work.path, force: false)
        return try SuiteRunner(plan: plan, suiteFile: file, sink: directory, options: options, log: { _ in }).run(resuming: false)
    }

    @Test func resultsAreConsistentWithTheirSamples() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-runner-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let plan = SuitePlan(suite: try Suite.parse(Self.suite, file: "runner-test.json5"))
        let outcome = try Self.run(plan, file: "runner-test.json5", into: work)
        #expect(outcome == .complete(failedCells: 0))

        let cells = RunDirectory(existing: work.path).finishedCells()
        #expect(cells.count == 9)
        for cell in cells {
            #expect(cell.status == .ok)
            #expect(cell.samplesNs.count == 3)  // 2 from the first session, 1 from the second
            // Rate per repetition is tokens * 1e9 / ns, and the statistics are of those rates.
            for (ns, ts) in zip(cell.samplesNs, cell.samplesTs) {
                #expect(abs(ts - Double(cell.nPrompt + cell.nGen) * 1e9 / ns) < 1e-6 * ts)
            }
            #expect(cell.rate.map { $0.min <= $0.median && $0.median <= $0.max } == true)
            if cell.nGen > 0 {
                // Per-token decode latencies are real durations: each at most a repetition's wall time,
                // and for tg (no prompt) together most of it.
                let p50 = try #require(cell.decodeP50Ms), p99 = try #require(cell.decodeP99Ms)
                let repetitionMs = cell.samplesNs.min()! / 1e6
                #expect(p50 > 0 && p50 <= p99 && p99 <= repetitionMs)
                if cell.nPrompt == 0 { #expect(p50 * Double(cell.nGen) >= repetitionMs / 2) }
            } else {
                #expect(cell.decodeP50Ms == nil)
            }
            // Op shares: the timed ops fit inside the wall time.
            let share = cell.ops.reduce(0) { $0 + $1.share }
            #expect(!cell.ops.isEmpty && share > 0.3 && share <= 1.05)
        }
        // Computed fill: each new depth's first cell carries the segment time; the ladder file has one
        // row per segment (depth 0 is a reset, not a segment).
        #expect(cells.filter { ($0.fillSeconds ?? 0) > 0 && $0.nDepth > 0 }.map(\.nDepth).sorted() == [24, 48])
        let ladder = try CSVCodec.parse(String(contentsOfFile: work.appendingPathComponent("ladder.csv").path, encoding: .utf8))
        #expect(ladder.first == ResultSchema.ladderColumns.map(\.name))
        #expect(ladder.dropFirst().map { $0[2] } == ["24", "48"])
        let csv = try CSVCodec.parse(String(contentsOfFile: work.appendingPathComponent("cells.csv").path, encoding: .utf8))
        #expect(csv.first == ResultSchema.cellColumns.map(\.name))
        #expect(csv.count == 10)
        // Every repetition appended once, numbered across sessions.
        let samples = try String(contentsOfFile: work.appendingPathComponent("samples.jsonl").path, encoding: .utf8)
            .split(separator: "\n").map { try JSONFormat.decode(RunDirectory.SampleLine.self, from: Data($0.utf8)) }
        #expect(samples.count == 27)
        #expect(Dictionary(grouping: samples, by: \.cellID).values.allSatisfy { $0.map(\.repetition).sorted() == [0, 1, 2] })
    }

    /// Interleaved fills: both setups built side by side, their repetitions alternating ABBA in each
    /// session, every cell complete.
    @Test func interleavedFillsAlternateRepetitions() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-runner-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let text = Self.suite.replacingOccurrences(of: "fill: \"computed\"", with: "fill: [\"synthetic\", \"computed\"], interleave: \"fill\"")
            .replacingOccurrences(of: "pg: [[4, 2]], depths: [0, 24, 48]", with: "depths: [24]")
        let plan = SuitePlan(suite: try Suite.parse(text, file: "interleave-test.json5"))
        #expect(plan.groups.count == 1 && plan.groups[0].map(\.fill) == [.synthetic, .computed])
        let outcome = try Self.run(plan, file: "interleave-test.json5", into: work)
        #expect(outcome == .complete(failedCells: 0))
        #expect(RunDirectory(existing: work.path).finishedCells().count == 4)
        let samples = try String(contentsOfFile: work.appendingPathComponent("samples.jsonl").path, encoding: .utf8)
            .split(separator: "\n").map { try JSONFormat.decode(RunDirectory.SampleLine.self, from: Data($0.utf8)) }
        // Per test: session 1 runs repetitions 0, 1 (A B, B A), session 2 repetition 2 (A B).
        let fills = samples.filter { $0.cellID.hasSuffix("pp8@d24") }.map { $0.cellID.contains("/synthetic/") ? "S" : "C" }
        #expect(fills.joined() == "SCCSSC")
        // A report keeps both fills apart: one series each, in every table.
        let report = Report(runs: [try LoadedRun.load(work.path)])
        let curves = try #require(report.tables.first { $0.name == "degradation" })
        let series = Set(curves.rows.map { $0[0] })
        #expect(series.count == 2 && series.contains { $0.hasSuffix("· synthetic") } && series.contains { $0.hasSuffix("· computed") })
        let platforms = try #require(report.tables.first { $0.name == "platforms" })
        #expect(platforms.rows.count == 2)
    }

    /// A calibrating run probes the read bandwidth once before and once after each session's
    /// repetitions of a cell, and the FMA peak between them too: repetitions + 1 bursts a session.
    @Test func fmaPeakIsProbedBetweenRepetitions() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-runner-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let text = Self.suite.replacingOccurrences(of: "pg: [[4, 2]], depths: [0, 24, 48]", with: "depths: [0]")
            .replacingOccurrences(of: "fill: \"computed\"", with: "fill: \"synthetic\"")
            .replacingOccurrences(of: "repetitions: 3, sessions: 2", with: "repetitions: 5, sessions: 2")
        let plan = SuitePlan(suite: try Suite.parse(text, file: "probes.json5"))
        let outcome = try Self.run(plan, file: "probes.json5", into: work) { options in
            options.calibrate = true
            // Small limits and probes: the debug build's kernels are slow.
            options.calibrator.dramBufferBytes = 4 << 20
            options.calibrator.cacheBufferBytesPerThread = 16 << 10
            options.calibrator.fmaIterations = 10_000
            options.probeBytes = 1 << 20
            options.probeFMAFLOPs = 1_000_000
        }
        #expect(outcome == .complete(failedCells: 0))
        let cells = RunDirectory(existing: work.path).finishedCells()
        #expect(cells.count == 2)
        for cell in cells {
            #expect(cell.samplesNs.count == 5)  // 3 in the first session, 2 in the second
            let read = try #require(cell.probeReadGBps), fma = try #require(cell.probeFMAGFLOPs)
            #expect(read.count == 4)
            #expect(fma.count == 7)  // (3 + 1) + (2 + 1)
            #expect((read + fma).allSatisfy { $0 > 0 && $0.isFinite })
            let peak = try #require(cell.peakFraction), achieved = try #require(cell.achievedGFLOPs)
            #expect(abs(peak - achieved / SampleStatistics.median(fma)) < 1e-9 * peak)
        }
    }

    /// A llama.cpp engine whose binary is missing: its cells fail with the reason, ctxbench's cells
    /// of the same sweep are ok, and the report still pairs nothing it cannot.
    @Test func llamaCppCellsThatCannotRunFailWithTheReason() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-runner-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let parity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Parity").path
        let suite = try Suite.parse("""
            { models: [{ gguf: "\(parity)/step-tiny-f32.gguf" }],
              engines: [{ name: "ctxbench" }, { name: "llama.cpp", bin: "/nonexistent-llama" }],
              threads: [1], tests: { pp: [4] }, warmup: 0, repetitions: 2 }
            """, file: "engines.json5")
        let outcome = try Self.run(SuitePlan(suite: suite), file: "engines.json5", into: work)
        #expect(outcome == .complete(failedCells: 1))
        let cells = RunDirectory(existing: work.path).finishedCells()
        #expect(cells.map(\.cellID) == ["step-tiny-f32/f32/f16/t1/none/synthetic/pp4@d0", "llama.cpp/step-tiny-f32/f32/f16/t1/none/computed/pp4@d0"])
        #expect(cells[0].status == .ok && cells[0].engine == "ctxbench")
        #expect(cells[1].status == .failed && cells[1].engine == "llama.cpp")
        #expect(cells[1].error?.contains("cannot start /nonexistent-llama/llama-bench") == true)
        let csv = try CSVCodec.parse(String(contentsOf: work.appendingPathComponent("cells.csv"), encoding: .utf8))
        #expect(csv.dropFirst().map { $0[1] } == ["ctxbench", "llama.cpp"])
    }

    /// `interleave: ["engine"]`: llama.cpp's setup joins ctxbench's group (whatever the fills), and
    /// runs inside it: a llama.cpp cell that cannot start fails with the reason in the first
    /// session, ctxbench's cells of the group finish both sessions.
    @Test func interleavedEnginesShareAGroup() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-runner-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let parity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Parity").path
        let suite = try Suite.parse("""
            { models: [{ gguf: "\(parity)/step-tiny-f32.gguf" }, { gguf: "\(parity)/kimi-tiny-f32.gguf" }],
              engines: [{ name: "ctxbench" }, { name: "llama.cpp", bin: "/nonexistent-llama" }], interleave: ["engine"],
              threads: [1], tests: { pp: [4], tg: [2], depths: [0, 8] }, warmup: 0, repetitions: 2, sessions: 2 }
            """, file: "engines.json5")
        let plan = SuitePlan(suite: suite)
        #expect(plan.groups.map { $0.map(\.engine) } == [[0, 1], [0, 1]])
        #expect(plan.groups.allSatisfy { Set($0.map(\.model)).count == 1 })
        let outcome = try Self.run(plan, file: "engines.json5", into: work)
        #expect(outcome == .complete(failedCells: 8))
        let cells = RunDirectory(existing: work.path).finishedCells()
        #expect(cells.count == 16)
        #expect(cells.filter { $0.engine == "ctxbench" }.allSatisfy { $0.status == .ok && $0.samplesNs.count == 2 })
        #expect(cells.filter { $0.engine == "llama.cpp" }.allSatisfy {
            $0.status == .failed && $0.error?.contains("cannot start /nonexistent-llama/llama-bench") == true
        })
        // Group by group: the first model's cells (both engines) are all recorded before the second's.
        let models = cells.map(\.model)
        #expect(models == Array(repeating: "step-tiny-f32", count: 8) + Array(repeating: "kimi-tiny-f32", count: 8))
    }

    /// A child that aborts the way llama-bench does on a failed GGML_ASSERT (the assertion, then
    /// gdb's notes on sources it lacks, then SIGABRT; the stderr of a cell on an AMX machine) fails
    /// with the assertion, not with gdb's notes.
    @Test func abortedChildFailsWithItsAssertion() throws {
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-abort-\(UUID().uuidString).err")
        defer { try? FileManager.default.removeItem(at: err) }
        let assertion = "ggml/src/ggml-backend.cpp:1294: GGML_ASSERT(*cur_backend_id != -1) failed"
        // glibc's abort(), as ggml_abort calls it: it raises SIGABRT even where the test process
        // ignores or blocks the signal (a shell's kill -ABRT $$ would not).
        let script = "import os, sys; sys.stderr.write('llama_context: reserving\\n\(assertion)\\n"
            + "30\\t../sysdeps/unix/sysv/linux/wait4.c: No such file or directory.\\n"
            + "360\\t../csu/libc-start.c: No such file or directory.\\n'); sys.stderr.flush(); os.abort()"
        let child = ChildProcess.run("/usr/bin/env", ["python3", "-c", script], stderrFile: err.path, timeoutSeconds: 30)
        #expect(child.signaled && child.status == SIGABRT)
        #expect(child.failure == "killed by signal \(SIGABRT): \(assertion)")
    }

    /// A program the runner starts from a pinned thread (an engine session alive beside llama.cpp)
    /// gets every CPU the process had, not the thread's one: `nproc` counts the CPUs it may use.
    @Test func childOfAPinnedThreadGetsEveryCPU() throws {
        guard let all = CPUAffinity.current(), all.count > 1 else { return }  // one CPU: nothing to narrow
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-nproc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var pinnedCount = 0
        let thread = Thread {
            CPUAffinity.pinCurrentThread(to: [all[0]])
            pinnedCount = CPUAffinity.current()?.count ?? 0
            _ = ChildProcess.run("/usr/bin/env", ["nproc"], stdoutFile: out.path + ".txt", stderrFile: out.path + ".err", timeoutSeconds: 30)
            done.signal()
        }
        thread.start()
        done.wait()
        #expect(pinnedCount == 1)
        let printed = try String(contentsOfFile: out.path + ".txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(printed == String(all.count))
    }

    /// The README's column reference is the schema's, verbatim.
    @Test func readmeDocumentsEveryColumn() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let reference = ResultSchema.markdownReference()
        if !text.contains(reference) {
            let begin = "<!-- result-columns:begin -->\n", end = "<!-- result-columns:end -->"
            if ProcessInfo.processInfo.environment["CTXBENCH_UPDATE_GOLDEN"] == "1",
               let b = text.range(of: begin), let e = text.range(of: end) {
                try (String(text[..<b.upperBound]) + reference + String(text[e.lowerBound...]))
                    .write(to: readme, atomically: true, encoding: .utf8)
            } else {
                Issue.record("README.md's result-columns section differs from ResultSchema.markdownReference(); rerun with CTXBENCH_UPDATE_GOLDEN=1")
            }
        }
    }
}
