import Foundation
import Testing
@testable import CtxHarness

/// `gate --interleave` on real processes: two builds (here the test build, once as itself and once
/// behind wrappers that slow it down or fail), rounds.jsonl, and the fail-closed exit codes.
@Suite(.serialized) struct InterleavedGateTests {
    typealias R = RunResumeTests

    static let suite = """
    { name: "gate-test",
      models: [{ preset: "kimi-linear-mini", set: { layerCount: 2, hiddenSize: 128, vocabSize: 256,
        kdaHeads: 2, mlaHeads: 2, denseIntermediate: 256, experts: 8, expertsPerToken: 2,
        expertIntermediate: 64, sharedIntermediate: 64 } }],
      weightTypes: ["q8_0"], threads: [1],
      tests: { pp: [8], tg: [2], depths: [0] },
      warmup: 0, repetitions: 2 }
    """

    /// A wrapper executable that runs the test build with `environment` set, or just `body`.
    static func wrapper(in work: URL, name: String, body: String) throws -> String {
        let path = work.appendingPathComponent(name).path
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    static func observations(_ out: URL) throws -> [InterleavedGate.Observation] {
        try String(contentsOf: out.appendingPathComponent("rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONFormat.decode(InterleavedGate.Observation.self, from: Data($0.utf8)) }
    }

    @Test func aSlowedCandidateIsARegressionAndTheSameBuildIsNot() throws {
        guard let bin = R.binary else { Issue.record("ctxbench binary not found"); return }
        let work = try R.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let suite = work.appendingPathComponent("gate-test.json5")
        try Self.suite.write(to: suite, atomically: true, encoding: .utf8)
        // 150% slower: far past the 5% threshold and past this VM's noise, so the test is not flaky.
        let slow = try Self.wrapper(in: work, name: "slow", body: "CTXBENCH_TEST_SLOWDOWN=1.5 exec \"\(bin)\" \"$@\"")

        // The same build against itself at --alpha 0.01: over 3 rounds of millisecond cells a 5%
        // test calls a false regression in roughly one A/A run of twenty (seen once in CI).
        let same = work.appendingPathComponent("same")
        let a = try RunSafetyTests.run(["gate", "--interleave", "--baseline-bin", bin, "--candidate-bin", bin, suite.path,
                                        "--rounds", "3", "--alpha", "0.01", "--out", same.path])
        #expect(a.status != 2 && a.status != 7, "the same build: \(a.err)")
        let sameRounds = try Self.observations(same)
        #expect(sameRounds.count == 3 * 2 * 2)  // rounds x cells x builds
        #expect(sameRounds.allSatisfy { $0.value != nil })
        // Alternating order: the baseline first in round 1, the candidate first in round 2.
        #expect(sameRounds.filter { $0.round == 1 }.first?.build == "baseline")
        #expect(sameRounds.filter { $0.round == 2 }.first?.build == "candidate")
        #expect(FileManager.default.fileExists(atPath: same.appendingPathComponent("gate.md").path))

        let slower = work.appendingPathComponent("slower")
        let b = try RunSafetyTests.run(["gate", "--interleave", "--baseline-bin", bin, "--candidate-bin", slow, suite.path,
                                        "--rounds", "3", "--out", slower.path])
        #expect(b.status == 2, "150% slower: \(b.err)")
        // The output directory is never reused.
        let again = try RunSafetyTests.run(["gate", "--interleave", "--baseline-bin", bin, "--candidate-bin", bin, suite.path,
                                            "--out", slower.path])
        #expect(again.status == 64 || again.status == 1)
        #expect(again.err.contains("is not empty"))
    }

    @Test func aFailingCandidateFailsTheGateWithItsCells() throws {
        guard let bin = R.binary else { Issue.record("ctxbench binary not found"); return }
        let work = try R.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let suite = work.appendingPathComponent("gate-test.json5")
        try Self.suite.write(to: suite, atomically: true, encoding: .utf8)
        let broken = try Self.wrapper(in: work, name: "broken", body: "echo 'segmentation fault (simulated)' >&2; exit 139")
        let out = work.appendingPathComponent("out")
        let result = try RunSafetyTests.run(["gate", "--interleave", "--baseline-bin", bin, "--candidate-bin", broken, suite.path,
                                             "--rounds", "3", "--out", out.path])
        #expect(result.status == 7)
        // A broken baseline is not a pass either: inconclusive.
        let out2 = work.appendingPathComponent("out2")
        let flipped = try RunSafetyTests.run(["gate", "--interleave", "--baseline-bin", broken, "--candidate-bin", bin, suite.path,
                                              "--rounds", "3", "--out", out2.path])
        #expect(flipped.status == 3)
        let text = try String(contentsOf: out2.appendingPathComponent("gate.md"), encoding: .utf8)
        #expect(text.contains("the baseline build failed in round 1"))
        #expect(text.contains("segmentation fault (simulated)"))
    }

    /// A record the gate cannot write does not pass: here a directory stands in the way of
    /// rounds.jsonl (made by the baseline's wrapper before the first line), then of gate.md. The
    /// same build on both sides would pass; each gate is inconclusive instead and names what failed.
    @Test func aGateWhoseRecordCannotBeWrittenDoesNotPass() throws {
        guard let bin = R.binary else { Issue.record("ctxbench binary not found"); return }
        let work = try R.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let suite = work.appendingPathComponent("gate-test.json5")
        try Self.suite.replacingOccurrences(of: "pp: [8], tg: [2]", with: "tg: [2]").write(to: suite, atomically: true, encoding: .utf8)
        for blocked in ["rounds.jsonl", "gate.md"] {
            let out = work.appendingPathComponent("out-\(blocked)")
            let baseline = try Self.wrapper(in: work, name: "baseline-\(blocked)",
                                            body: "mkdir -p \"\(out.path)/\(blocked)\"\nexec \"\(bin)\" \"$@\"")
            let result = try RunSafetyTests.run(["gate", "--interleave", "--baseline-bin", baseline, "--candidate-bin", bin, suite.path,
                                                 "--rounds", "3", "--max-regression", "50%", "--out", out.path])
            // With 50% allowed, the same build against itself passes (checked: exit 0 before the fix).
            #expect(result.status == 3, "\(blocked): exit \(result.status): \(result.err)")
            #expect(result.err.contains("is not in \(blocked): cannot"), "\(blocked): \(result.err)")
            if blocked == "rounds.jsonl" {
                let written = try String(contentsOf: out.appendingPathComponent("gate.md"), encoding: .utf8)
                #expect(written.contains("write(s) of the gate's record failed"), "\(written)")
                #expect(written.contains("gate: INCONCLUSIVE (exit 3), because the record in"), "\(written)")
                #expect(written.contains("the values alone: PASS: "), "\(written)")
            }
        }
    }

    /// Instruction counts through callgrind: the same build twice counts within 0.5% per cell, and
    /// extra work is caught. Needs Debian's valgrind (scripts/test installs it). The knob is sized
    /// for release builds; this debug build runs many more instructions per FLOP, so it is turned up.
    #if CTXBENCH_AVX512
    static let avx512Build = true
    #else
    static let avx512Build = false
    #endif

    @Test func instructionCountsRepeatAndSeeExtraWork() throws {
        guard let bin = R.binary else { Issue.record("ctxbench binary not found"); return }
        guard InstructionCounter.valgrind() != nil else { Issue.record("valgrind not installed (scripts/test installs it)"); return }
        let work = try R.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let suite = work.appendingPathComponent("gate-test.json5")
        try Self.suite.replacingOccurrences(of: "pp: [8], tg: [2]", with: "tg: [1]")
            .write(to: suite, atomically: true, encoding: .utf8)
        let extra = try Self.wrapper(in: work, name: "extra", body: "CTXBENCH_TEST_EXTRA_WORK=2 exec \"\(bin)\" \"$@\"")
        let out = work.appendingPathComponent("same")
        let same = try RunSafetyTests.run(["gate", "--interleave", "--metric", "instructions", "--max-regression", "1%",
                                           "--baseline-bin", bin, "--candidate-bin", bin, suite.path, "--out", out.path])
        guard !Self.avx512Build else {
            // valgrind cannot run an AVX-512 build: the gate fails closed and says why.
            #expect(same.status != 0)
            let verdict = (try? String(contentsOf: out.appendingPathComponent("gate.md"), encoding: .utf8)) ?? ""
            #expect(verdict.contains("valgrind cannot decode an instruction of this build"), "\(verdict)")
            return
        }
        #expect(same.status == 0, "\(same.err)")
        let counts = try Self.observations(out)
        #expect(counts.count == 2)
        if let a = counts.first?.value, let b = counts.last?.value {
            #expect(a > 1e5)
            #expect(abs(a / b - 1) < 0.005, "\(a) and \(b)")
        }
        let out2 = work.appendingPathComponent("with-extra-work")
        let slower = try RunSafetyTests.run(["gate", "--interleave", "--metric", "instructions", "--max-regression", "1%",
                                             "--baseline-bin", bin, "--candidate-bin", extra, suite.path, "--out", out2.path])
        #expect(slower.status == 2, "\(slower.err)")
        let extraCounts = try Self.observations(out2)
        if let a = extraCounts.first(where: { $0.build == "baseline" })?.value, let b = extraCounts.first(where: { $0.build == "candidate" })?.value {
            #expect(b / a > 1.01, "\(a) and \(b)")
        }
        // Refused before anything runs: several threads cannot be counted repeatably.
        let threaded = work.appendingPathComponent("threaded.json5")
        try Self.suite.replacingOccurrences(of: "threads: [1]", with: "threads: [2]").write(to: threaded, atomically: true, encoding: .utf8)
        let refused = try RunSafetyTests.run(["gate", "--interleave", "--metric", "instructions", "--baseline-bin", bin,
                                              "--candidate-bin", bin, threaded.path, "--out", work.appendingPathComponent("t").path])
        #expect(refused.status != 0 && refused.err.contains("single-threaded"))
    }
}
