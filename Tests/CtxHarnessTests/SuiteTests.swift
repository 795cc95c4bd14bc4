import Foundation
import Testing
@testable import CtxHarness
import CtxEngine

@Suite struct JSON5Tests {
    @Test func parsesJSON5Extensions() throws {
        let text = """
        // comment
        { unquoted: 'single', "quoted": "double\\nline", trailing: [1, 2, 3,], hex: 0x1F, half: .5,
          plus: +3, /* block */ inf: -Infinity, yes: true, nothing: null, nested: { a: [ {b: 1e3} ] }, }
        """
        let value = try JSON5Parser.parse(text)
        guard case let .object(m) = value else { Issue.record("not an object"); return }
        let d = Dictionary(m.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(d["unquoted"] == .string("single"))
        #expect(d["quoted"] == .string("double\nline"))
        #expect(d["trailing"] == .array([.number(1), .number(2), .number(3)]))
        #expect(d["hex"] == .number(31))
        #expect(d["half"] == .number(0.5))
        #expect(d["plus"] == .number(3))
        #expect(d["inf"] == .number(-.infinity))
        #expect(d["yes"] == .bool(true))
        #expect(d["nothing"] == .null)
        #expect(m.map(\.key) == ["unquoted", "quoted", "trailing", "hex", "half", "plus", "inf", "yes", "nothing", "nested"])
    }

    @Test(arguments: [
        ("{ a: 1 ", "unterminated object"),
        ("{ a: 1 } x", "after the value"),
        ("{ a: [1, 2 }", "expected ',' or ']'"),
        ("{ a: 'x }", "unterminated string"),
        ("{ a: yes }", "unexpected word 'yes'"),
        ("{ a: 1, a: 2 }", "duplicate key 'a'"),
        ("", "unexpected end of input"),
    ])
    func rejectsBadJSON5WithPosition(text: String, message: String) {
        do {
            _ = try JSON5Parser.parse(text)
            Issue.record("accepted \(text)")
        } catch let e as JSON5Error {
            #expect(e.message.contains(message), "\(e)")
            #expect(e.line >= 1 && e.column >= 1)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

@Suite struct SuiteParsingTests {
    static let valid = """
    { name: "t", models: [{ preset: "kimi-linear-mini" }], weightTypes: ["q8_0", "q4_K_M"],
      tests: { pp: [64], tg: [8], pg: [[32, 4]], depths: { start: 512, end: 4096, doubling: true, zero: true } },
      repetitions: { min: 2, max: 4, ciWidth: 0.1 }, threads: [1, 2] }
    """

    @Test func parsesTheGridAndLadder() throws {
        let suite = try Suite.parse(Self.valid, file: "suites/t.json5")
        #expect(suite.depths == [0, 512, 1024, 2048, 4096])
        #expect(suite.tests == [.pp(64), .tg(8), .pg(32, 4)])
        #expect(suite.tests.map(\.label) == ["pp64", "tg8", "pp32+tg4"])
        #expect(suite.weightTypes == [.uniform(.q8_0), .q4_K_M])
        #expect(suite.repetitions == .adaptive(min: 2, max: 4, ciWidth: 0.1, budgetSeconds: 60))
        let plan = SuitePlan(suite: suite)
        #expect(plan.cells.count == 1 * 2 * 1 * 2 * 1 * 5 * 3)
        #expect(Set(plan.cells.map { $0.id(in: suite) }).count == plan.cells.count)
        // Shards partition the grid.
        let shards = (0..<3).map { SuitePlan(suite: suite, shard: ($0, 3)).cells.map(\.index) }
        #expect(shards.flatMap { $0 }.sorted() == plan.cells.map(\.index))
        // Within a setup, depths ascend (the ladder never goes back).
        for setup in plan.setups {
            let depths = plan.cells.filter { $0.setup == setup }.map(\.depth)
            #expect(depths == depths.sorted())
        }
    }

    /// A list of fill modes is a grid dimension: one setup (session) per mode, the mode in every cell id.
    @Test func fillListIsAGridDimension() throws {
        let suite = try Suite.parse("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [8], depths: [0, 64]}, fill: ['synthetic', 'computed'] }",
                                    file: "f.json5")
        let plan = SuitePlan(suite: suite)
        #expect(plan.cells.count == 4 && plan.setups.map(\.fill) == [.synthetic, .computed])
        #expect(Set(plan.cells.map { $0.id(in: suite) }).count == 4)
        #expect(plan.cells.map { $0.id(in: suite) }.contains("kimi-linear-mini/q8_0/f16/t\(suite.threads[0])/none/computed/pp8@d64"))
    }

    /// Engines: llama.cpp cells for GGUF files only (presets, synthetic weights and slices skipped,
    /// and said so), one computed fill, the engine's label leading the cell id.
    @Test func enginesAreAGridDimension() throws {
        let parity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Parity").path
        let suite = try Suite.parse("""
            { models: [{ gguf: "\(parity)/step-tiny-f32.gguf" }, { preset: "kimi-linear-mini" },
                       { gguf: "\(parity)/kimi-tiny-f32.gguf", weights: "synthetic" }],
              engines: [{ name: "ctxbench" }, { name: "llama.cpp", bin: "llama/bin", args: ["-fa", "1"] }],
              threads: [1], tests: { pp: [8], depths: [0, 16] }, fill: ["synthetic", "computed"] }
            """, file: "/suites/f.json5")
        #expect(suite.engines.map(\.label) == ["ctxbench", "llama.cpp"])
        #expect(suite.engines[1].bin == "/suites/llama/bin" && suite.engines[1].args == ["-fa", "1"])
        let plan = SuitePlan(suite: suite)
        let ids = plan.cells.map { $0.id(in: suite) }
        #expect(ids.filter { !$0.hasPrefix("llama.cpp/") }.count == 3 * 2 * 2)
        #expect(ids.filter { $0.hasPrefix("llama.cpp/") } == ["llama.cpp/step-tiny-f32/f32/f16/t1/none/computed/pp8@d0",
                                                              "llama.cpp/step-tiny-f32/f32/f16/t1/none/computed/pp8@d16"])
        #expect(plan.skipped.count == 2 && plan.skipped[0].contains("kimi-linear-mini is a preset")
                && plan.skipped[1].contains("synthetic weights"))
        let cell = try #require(plan.cells.first { $0.engine == 1 && $0.depth == 16 })
        let arguments = LlamaBenchInvocation.arguments(cell: cell, suite: suite, repetitions: 4)
        #expect(arguments.joined(separator: " ") == "-m \(parity)/step-tiny-f32.gguf -o jsonl -r 4 -t 1 -ctk f16 -ctv f16 -b 2048 -ub 512 -d 16 -p 8 -n 0 -fa 1")
        #expect(LlamaBenchInvocation.executable(suite.engines[1]) == "/suites/llama/bin/llama-bench")
    }

    /// llama-batched-bench as the tool: pp tests from empty and tg tests after a prefill of the depth
    /// only, each read from a line llama-batched-bench really printed (LlamaCppOutputs/).
    @Test func batchedBenchCellsAndTheirSamples() throws {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let suite = try Suite.parse("""
            { models: [{ gguf: "\(here.path)/Parity/step-tiny-f32.gguf" }],
              engines: [{ name: "llama.cpp", tool: "llama-batched-bench" }],
              threads: [2], tests: { pp: [128], tg: [32], pg: [[8, 2]], depths: [0, 128] } }
            """, file: "/suites/b.json5")
        let plan = SuitePlan(suite: suite)
        #expect(plan.cells.map(\.testLabel) == ["pp128", "tg32", "tg32 @ d128"])
        #expect(plan.skipped.count == 1 && plan.skipped[0].contains("3 test(s) llama-batched-bench does not measure"))
        let tg = plan.cells[2]
        #expect(LlamaBenchInvocation.batchedArguments(cell: tg, suite: suite).joined(separator: " ")
                == "-m \(here.path)/Parity/step-tiny-f32.gguf --output-format jsonl -c 161 -npp 128 -ntg 32 -npl 1 -t 2 -ctk f16 -ctv f16 -b 2048 -ub 512")
        #expect(LlamaBenchInvocation.executable(suite.engines[0]).hasSuffix("llama-batched-bench"))
        // The first line of the real output: pp 128, tg 32; t_pp 0.005510 s, t_tg 0.006349 s.
        let line = try String(contentsOf: here.appendingPathComponent("LlamaCppOutputs/batched-bench.jsonl"), encoding: .utf8)
            .split(separator: "\n")[0] + "\n"
        let decode = try SuiteRunner.batchedBenchSample(String(line), file: "b.jsonl", cell: tg)
        #expect(decode.ns == [6_349_000] && decode.fillSeconds == 0.005510)
        var pp = plan.cells[0]
        #expect(throws: ImportError.self) { try SuiteRunner.batchedBenchSample(String(line), file: "b.jsonl", cell: pp) }  // pp 128 with tg 32: not this cell
        pp.test = .pp(128)
        let prefillLine = line.replacingOccurrences(of: "\"tg\": 32", with: "\"tg\": 0")
        #expect(try SuiteRunner.batchedBenchSample(prefillLine, file: "b.jsonl", cell: pp).ns == [5_510_000])
    }

    @Test func shippedSuitesAreValid() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("suites")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json5") }
        #expect(Set(files) == ["quickstart.json5", "kimi-linear-262k.json5", "step35-flash-262k.json5", "quant-levels.json5", "ci.json5",
                             "ci-instructions.json5", "fill-equivalence.json5", "cluster-check.json5", "llama-engine-check.json5",
                             "vs-llamacpp.json5", "vs-llamacpp-mini.json5"])
        for file in files {
            let path = directory.appendingPathComponent(file).path
            // The side-by-side suites name GGUF files scripts/make-vs-llamacpp-models writes under
            // .build/: without them, the suite is refused naming the first missing file.
            if file.hasPrefix("vs-llamacpp"), let text = try? String(contentsOfFile: path, encoding: .utf8),
               let first = text.firstMatch(of: /gguf: "\.\.\/(\.build\/vs-llamacpp\/[^"]+)"/)?.1,
               !FileManager.default.fileExists(atPath: directory.deletingLastPathComponent().appendingPathComponent(String(first)).path) {
                #expect(throws: SuiteError.self) { try Suite.load(path: path) }
                do { _ = try Suite.load(path: path) } catch {
                    #expect("\(error)".contains("models[0].gguf") && "\(error)".contains(String(first)), "\(error)")
                }
                continue
            }
            let suite = try Suite.load(path: path)
            #expect(!SuitePlan(suite: suite).cells.isEmpty, "\(file)")
        }
    }

    /// Each malformed suite gets one error naming the file and the field.
    @Test(arguments: [
        ("{ name: 1, models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]} }", "name", "expected a string, got the number 1"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1], depths: [0, 512, -5]} }", "tests.depths[2]", "expected an integer 0...1048576, got the number -5"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, repetitons: 3 }", "repetitons", "did you mean 'repetitions'"),
        ("{ models: [], tests: {pp: [1]} }", "models", "expected a non-empty list"),
        ("{ tests: {pp: [1]} }", "models", "missing"),
        ("{ models: [{preset: 'kimi-linear-mni'}], tests: {pp: [1]} }", "models[0].preset", "did you mean \"kimi-linear-mini\""),
        ("{ models: [{preset: 'kimi-linear-mini', set: {expertz: 4}}], tests: {pp: [1]} }", "models[0].set.expertz", "did you mean 'experts'"),
        ("{ models: [{preset: 'kimi-linear-mini', layers: 99}], tests: {pp: [1]} }", "models[0].layers", "expected an integer 1...8"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [0]} }", "tests.pp[0]", "expected an integer 1...1048576"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: '512'} }", "tests.pp", "expected a list, got the string"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {} }", "tests", "at least one of pp, tg or pg"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pg: [[1]]} }", "tests.pg[0]", "expected a pair"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, weightTypes: ['q3_K'] }", "weightTypes[0]", "expected one of"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, cacheTypes: ['q4_0'] }", "cacheTypes[0]", "expected f32, f16 or q8_0"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, threads: [0] }", "threads[0]", "expected an integer 1...4096"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, fill: 'fast' }", "fill", "expected \"synthetic\" or \"computed\""),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, fill: ['computed', 'fast'] }", "fill[1]", "expected \"synthetic\" or \"computed\""),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1], depths: {start: 0, end: 8, doubling: true}} }", "tests.depths.start", "start >= 1"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, repetitions: {min: 5, max: 2} }", "repetitions.max", "expected an integer 5...10000"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, repetitions: {min: 2}, sessions: 2 }", "sessions", "expected 1 with adaptive repetitions"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, repetitions: 2, sessions: 3 }", "sessions", "expected at most the number of repetitions (2)"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, numa: 'spread' }", "numa[0]", "expected none, distribute or isolate"),
        ("{ models: [{preset: 'kimi-linear-mini'}], tests: {pp: [1]}, profile: 'yes' }", "profile", "expected true or false"),
        ("{ models: [{preset: 'kimi-linear-mini' tests: {} }", "", "not valid JSON5: line 1"),
        ("[1, 2]", "", "expected an object, got an array"),
    ])
    func malformedSuitesNameTheField(text: String, path: String, message: String) {
        do {
            _ = try Suite.parse(text, file: "suites/x.json5")
            Issue.record("accepted: \(text)")
        } catch let e as SuiteError {
            #expect(e.file == "suites/x.json5")
            #expect(e.path == path, "\(e)")
            #expect(e.message.contains(message), "\(e)")
            #expect(e.description.hasPrefix(path.isEmpty ? "suites/x.json5: " : "suites/x.json5: \(path): "))
        } catch {
            Issue.record("not a SuiteError: \(error)")
        }
    }
}

@Suite struct StatisticsTests {
    @Test func knownValues() {
        let s = SampleStatistics([10, 12, 11, 13, 9, 50])
        #expect(s.n == 6)
        #expect(abs(s.mean - 17.5) < 1e-12)
        #expect(s.median == 11.5)
        #expect(s.min == 9 && s.max == 50)
        // Two-pass sample variance: Σ(x - 17.5)^2 / 5 = 1277.5 / 5.
        #expect(abs(s.standardDeviation - (1277.5 / 5).squareRoot()) < 1e-9)
        #expect(s.mad == 1.5)
        #expect(s.outliers == 1)  // 50: |0.6745 * 38.5 / 1.5| = 17.3 > 3.5
        // t(0.975, 5) = 2.5706 (the table's 2.571).
        #expect(abs(s.confidenceHalfWidth95 - 2.5706 * s.standardDeviation / 6.0.squareRoot()) < 1e-4 * s.confidenceHalfWidth95)
    }

    @Test func twoPassVarianceSurvivesLargeOffsets() {
        // One-pass formulas lose everything here (the llama-bench failure mode).
        let base = 1e9
        let s = SampleStatistics([base + 1, base + 2, base + 3])
        #expect(abs(s.standardDeviation - 1) < 1e-6)
        #expect(SampleStatistics([5]).standardDeviation == 0)
        #expect(SampleStatistics.percentile([1, 2, 3, 4, 5], 50) == 3)
        #expect(abs(SampleStatistics.percentile(Array(1...100).map(Double.init), 99) - 99.01) < 1e-9)
    }
}
