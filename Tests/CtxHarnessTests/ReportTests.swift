import Foundation
import Testing
@testable import CtxHarness
#if canImport(FoundationXML)
import FoundationXML
#endif

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The published Step-3.5-Flash measurements, converted into run directories, must come back out of
/// `report` exactly as published.
@Suite struct ReferenceReportTests {
    static let directory = repository.appendingPathComponent("results/reference/step35-flash-batched-bench")

    static func sourceRows() throws -> [[String: String]] {
        let rows = try CSVCodec.parse(String(contentsOf: directory.appendingPathComponent("source.csv"), encoding: .utf8))
        return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rows[0], $0)) }
    }

    static func runs() throws -> [LoadedRun] {
        try ["mac-studio-m4-max", "nvidia-dgx-spark", "amd-ryzen-ai-max-395"].map {
            try LoadedRun.load(directory.appendingPathComponent($0).path)
        }
    }

    /// Two runs on one platform by builds for different ISAs are told apart in the report: each
    /// label names its build's widest vectors; runs of the same build keep the platform's label.
    @Test func runsOfOnePlatformByDifferentBuildsAreLabelledByBuild() throws {
        let path = repository.appendingPathComponent("results/examples/vs-llamacpp/runs/vs-llamacpp-d0-t2-xeon").path
        let avx2 = try LoadedRun.load(path)
        var avx512 = avx2
        avx512.metadata.platform.buildISA = avx2.metadata.platform.buildISA + ["avx512f", "avx512bw"]
        let label = avx2.metadata.platformLabel
        let mixed = Report(runs: [avx2, avx512])
        #expect(mixed.fingerprints.map { $0.label } == ["\(label), AVX2 build", "\(label), AVX-512 build"])
        #expect(mixed.tables.flatMap { $0.rows }.contains { $0.first == "\(label), AVX-512 build" })
        let same = Report(runs: [avx2, avx2])
        #expect(same.fingerprints.map { $0.label } == [label, label])
    }

    /// The same slice run twice on one platform and build (before and after a change) gets each
    /// run's directory name; runs that complement each other (depth 0 and depth 4096) keep one label.
    @Test func rerunsOfTheSameCellsAreLabelledByTheirDirectory() throws {
        let runs = repository.appendingPathComponent("results/examples/vs-llamacpp/runs")
        let before = try LoadedRun.load(runs.appendingPathComponent("vs-llamacpp-d0-t2-zen4").path)
        let after = try LoadedRun.load(runs.appendingPathComponent("vs-llamacpp-d0-t2-zen4-mla").path)
        let deeper = try LoadedRun.load(runs.appendingPathComponent("vs-llamacpp-d4096-t2-q4km-zen4-mla").path)
        let label = before.metadata.platformLabel
        #expect(after.metadata.platformLabel == label && deeper.metadata.platformLabel == label)
        #expect(Report(runs: [before, after]).fingerprints.map { $0.label }
                == ["\(label), vs-llamacpp-d0-t2-zen4", "\(label), vs-llamacpp-d0-t2-zen4-mla"])
        #expect(Report(runs: [after, deeper]).fingerprints.map { $0.label } == [label, label])
    }

    /// Two hosts behind one CPU model string (the development VM's Zen 3 and Zen 4 hosts, both "AMD
    /// EPYC") are told apart by their CPU's features; builds are then told apart within each.
    @Test func hostsReportingOneCPUModelAreLabelledByTheirFeatures() throws {
        let path = repository.appendingPathComponent("results/examples/vs-llamacpp/runs/vs-llamacpp-d0-t2").path
        let zen3 = try LoadedRun.load(path)
        var zen4 = zen3
        zen4.metadata.platform.cpuFeatures = zen3.metadata.platform.cpuFeatures + ["avx512f", "avx512bw"]
        var zen4AVX512Build = zen4
        zen4AVX512Build.metadata.platform.buildISA = zen4.metadata.platform.buildISA + ["avx512f", "avx512bw"]
        let label = zen3.metadata.platformLabel
        let report = Report(runs: [zen3, zen4, zen4AVX512Build])
        #expect(report.fingerprints.map { $0.label } == ["\(label), AVX2 CPU", "\(label), AVX-512 CPU, AVX2 build",
                                                         "\(label), AVX-512 CPU, AVX-512 build"])
    }

    /// The published summary table (docs/architectures.md): prompt S_PP and generation S_TG at 16K,
    /// prefill / generation at 262K, or for a platform that stopped short, at its largest context.
    @Test func platformTableReproducesThePublishedFigures() throws {
        let source = try Self.sourceRows()
        let report = Report(runs: try Self.runs())
        let table = try #require(report.tables.first { $0.name == "platforms" })
        #expect(table.rows.count == 3)
        for row in table.rows {
            let platform = row[0]
            let mine = source.filter { $0["platform"] == platform }
            #expect(!mine.isEmpty, "\(platform)")
            func published(_ pp: String, _ field: String) -> String {
                mine.first { $0["pp"] == pp }.map { String(format: "%.2f", Double($0[field]!)!) } ?? "-"
            }
            #expect(row[1] == mine[0]["backend"])
            #expect(row[3] == mine[0]["quant"] && row[4] == mine[0]["kv_type"])
            #expect(row[6] == published("16384", "s_pp_tps"), "\(platform) prompt 16K")
            #expect(row[7] == published("16384", "s_tg_tps"), "\(platform) generation at 16K")
            // Extended context: 262144, or the largest context the source has for the platform.
            let largest = mine.compactMap { Int($0["pp"]!) }.max()!
            let suffix = largest == 262_144 ? "" : " @ \(largest / 1024)K"
            #expect(row[8] == published(String(largest), "s_pp_tps") + suffix, "\(platform) extended prefill")
            #expect(row[9] == published(String(largest), "s_tg_tps") + suffix, "\(platform) extended generation")
        }
        // Every figure of the published summary table, as the source rounds them.
        let printed = table.rows.flatMap { $0[6...9] }.joined(separator: " ")
        for figure in ["372.5", "41.2", "119.5", "8.88", "528.3", "19.2", "217.2", "8.39", "43.10 @ 64K", "2.98 @ 64K"] {
            #expect(printed.contains(figure), "\(figure) missing from \(printed)")
        }
        #expect(table.rows[0][6...9] == ["372.52", "41.27", "119.51", "8.88"])
        #expect(table.rows[1][6...9] == ["528.39", "19.24", "217.21", "8.39"])
        #expect(table.rows[2][6...9] == ["131.52", "3.30", "43.10 @ 64K", "2.98 @ 64K"])
        // Markdown and CSV carry the same figures.
        #expect(table.markdown.contains("| 372.52 | 41.27 | 119.51 | 8.88 |"))
        #expect(table.csv.contains("\"43.10 @ 64K\",\"2.98 @ 64K\""))
    }

    @Test func degradationCurvesHoldEveryPublishedPoint() throws {
        let source = try Self.sourceRows()
        let report = Report(runs: try Self.runs())
        let curves = try #require(report.tables.first { $0.name == "degradation" })
        var expected = 0
        for s in source {
            let platform = s["platform"]!
            if let ts = Double(s["s_tg_tps"]!) {
                expected += 1
                #expect(curves.rows.contains { $0[0].hasPrefix(platform) && $0[1].hasPrefix("tg128") && $0[2] == s["pp"]! && $0[3] == String(format: "%.2f", ts) },
                        "\(platform) tg @ \(s["pp"]!)")
            }
            if let pp = Double(s["s_pp_tps"]!) {
                expected += 1
                #expect(curves.rows.contains { $0[0].hasPrefix(platform) && $0[1].hasPrefix("S_PP") && $0[2] == s["pp"]! && $0[3] == String(format: "%.2f", pp) },
                        "\(platform) S_PP @ \(s["pp"]!)")
            }
        }
        #expect(curves.rows.count == expected)
        // The AMD platform stops at 64K: its 256K rates are predictions, and labelled so.
        let fits = try #require(report.tables.first { $0.name == "cost-model" })
        #expect(fits.rows.filter { $0[0].hasPrefix("AMD") }.allSatisfy { $0[7].hasPrefix("predicted (extrapolated") })
        #expect(fits.rows.filter { $0[0].hasPrefix("Mac") }.allSatisfy { $0[7] == "measured" })
    }

    @Test func chartsAreWellFormedSVG() throws {
        let report = Report(runs: try Self.runs())
        #expect(report.charts.map(\.name) == ["rate-generation.svg", "rate-prefill.svg"])
        for chart in report.charts {
            let parser = XMLParser(data: Data(chart.svg.utf8))
            #expect(parser.parse(), "\(chart.name): \(parser.parserError.map { "\($0)" } ?? "")")
            #expect(chart.svg.contains("<polyline") && chart.svg.contains("Mac Studio M4 Max"))
        }
    }
}

@Suite struct ImportTests {
    @Test func llamaBenchCSVReadsFieldsByNameAndKeepsNaN() throws {
        let csv = """
        "build_commit","build_number","cpu_info","gpu_info","backends","model_filename","model_type","model_size","model_n_params","n_batch","n_ubatch","n_threads","type_k","type_v","n_prompt","n_gen","n_depth","test_time","avg_ns","stddev_ns","avg_ts","stddev_ts","some_future_field"
        "8e672efe","4390","AMD EPYC 7B13","","CPU","m.gguf","qwen3moe 30B.A3B Q4_K - Medium","17.28 GiB","30532122624","2048","512","16","f16","f16","512","0","4096","2025-01-01T00:00:00Z","2000000000","1000000","256.000000","0.500000","x"
        "8e672efe","4390","AMD EPYC 7B13","","CPU","m.gguf","qwen3moe 30B.A3B Q4_K - Medium","17.28 GiB","30532122624","2048","512","16","f16","f16","0","128","0","2025-01-01T00:00:00Z","nan","nan","nan","nan","x"
        """
        let m = try LlamaBenchImport.parse(csv, file: "b.csv")
        #expect(m.count == 2)
        #expect(m[0].model == "qwen3moe 30B.A3B" && m[0].weightType == "Q4_K_M" && m[0].threads == 16)
        #expect(m[0].testLabel == "pp512 @ d4096" && m[0].samplesTs == [256] && m[0].error == nil)
        #expect(m[1].testLabel == "tg128" && m[1].error != nil)
        let run = try #require(ImportedRun.make(m, source: "llama-bench", file: "b.csv", platformName: nil, commandLine: []).first)
        #expect(run.metadata.platformName == "AMD EPYC 7B13")
        #expect(run.cells.map(\.status) == [.ok, .failed])
        // The printed standard deviation is kept; what needs the samples stays unknown.
        let rate = try #require(run.cells[0].rate)
        #expect(rate.mean == 256 && rate.standardDeviation == 0.5 && rate.n == 0 && rate.median.isNaN && rate.confidenceHalfWidth95.isNaN)
        #expect(abs(rate.coefficientOfVariation - 0.5 / 256) < 1e-12)
    }

    /// Rows that differ only in a setting (n_ubatch, flash_attn, type_v...) are different cells,
    /// named by that setting, not "X" and "X#2".
    @Test func settingsThatDifferAreInTheCellIdentity() throws {
        let header = #""model_type","n_batch","n_ubatch","flash_attn","n_threads","type_k","type_v","n_prompt","n_gen","n_depth","avg_ts","stddev_ts""#
        let csv = [header,
                   #""llama 8B Q8_0","2048","512","0","8","f16","f16","512","0","0","100","1""#,
                   #""llama 8B Q8_0","2048","256","0","8","f16","f16","512","0","0","90","1""#,
                   #""llama 8B Q8_0","2048","512","1","8","f16","q8_0","512","0","0","110","1""#,
                   #""llama 8B Q8_0","2048","512","1","8","f16","q8_0","512","0","0","111","1""#].joined(separator: "\n") + "\n"
        let run = try #require(ImportedRun.make(try LlamaBenchImport.parse(csv, file: "s.csv"), source: "llama-bench", file: "s.csv",
                                                platformName: "p", commandLine: []).first)
        #expect(run.cells.map(\.cellID) == [
            "llama 8B/Q8_0/f16/t8/-/computed/pp512@d0/flash_attn=0,n_ubatch=512,type_v=f16",
            "llama 8B/Q8_0/f16/t8/-/computed/pp512@d0/flash_attn=0,n_ubatch=256,type_v=f16",
            "llama 8B/Q8_0/f16/t8/-/computed/pp512@d0/flash_attn=1,n_ubatch=512,type_v=q8_0",
            // The same test with the same settings twice (an invocation repeated): numbered.
            "llama 8B/Q8_0/f16/t8/-/computed/pp512@d0/flash_attn=1,n_ubatch=512,type_v=q8_0#2",
        ])
    }

    @Test func llamaBenchJSONAndJSONLCarrySamples() throws {
        let object = #"{"build_commit":"abc","cpu_info":"Apple M4 Max","backends":"Metal","model_type":"llama 8B Q8_0","n_threads":12,"type_k":"q8_0","n_prompt":0,"n_gen":32,"avg_ns":800000000,"avg_ts":40.0,"stddev_ts":1.0,"samples_ns":[790000000,810000000,800000000],"samples_ts":[40.5,39.5,40.0]}"#
        for text in ["[\n  \(object)\n]", object + "\n"] {
            let m = try LlamaBenchImport.parse(text, file: "b.json")
            #expect(m.count == 1 && m[0].samplesTs == [40.5, 39.5, 40.0] && m[0].nDepth == 0)
            #expect(m[0].weightType == "Q8_0" && m[0].cacheType == "q8_0" && m[0].backend == "Metal")
        }
    }

    @Test func llamaBenchMarkdown() throws {
        let md = """
        | model                          |       size |     params | backend    | threads |            test |                  t/s |
        | ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |
        | qwen2 1.5B Q4_0                | 885.97 MiB |     1.54 B | Metal,BLAS |      16 |           pp512 |      5765.41 ± 20.55 |
        | qwen2 1.5B Q4_0                | 885.97 MiB |     1.54 B | Metal,BLAS |      16 |  tg128 @ d4096 |        197.71 ± 0.81 |
        | qwen2 1.5B Q4_0                | 885.97 MiB |     1.54 B | Metal,BLAS |      16 |     pp512+tg128 |        400.10 ± 2.00 |

        build: 8e672efe (4390)
        """
        let m = try LlamaBenchImport.parse(md, file: "b.md")
        #expect(m.map(\.testLabel) == ["pp512", "tg128 @ d4096", "pp512+tg128"])
        #expect(m[1].samplesTs == [197.71] && m[0].buildCommit == "8e672efe" && m[0].weightType == "Q4_0")
    }

    @Test func batchedBenchMarkdownAndJSONL() throws {
        let md = """
        main: n_kv_max = 16384, n_batch = 2048, n_ubatch = 512, flash_attn = 0, is_pp_shared = 0, n_gpu_layers = 99, n_threads = 8, n_threads_batch = 8

        |    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |
        |-------|--------|------|--------|----------|----------|----------|----------|----------|----------|
        |   128 |    128 |    1 |    256 |    0.108 |  1186.64 |    3.079 |    41.57 |    3.187 |    80.32 |
        |   512 |    128 |    1 |    640 |    0.400 |  1280.00 |    3.200 |    40.00 |    3.600 |   177.78 |


        """
        let m = try BatchedBenchImport.parse(md, file: "bb.md")
        #expect(m.map(\.testLabel) == ["pp128", "tg128 @ d128", "pp512", "tg128 @ d512"])
        #expect(m[0].samplesTs == [1186.64] && m[0].threads == 8 && abs(m[0].samplesNs[0] - 0.108e9) < 1)
        let jsonl = #"{"n_kv_max": 2048, "n_batch": 512, "n_ubatch": 512, "flash_attn": 0, "is_pp_shared": 0, "n_gpu_layers": 99, "n_threads": 8, "n_threads_batch": 8, "pp": 128, "tg": 128, "pl": 1, "n_kv": 256, "t_pp": 0.233810, "speed_pp": 547.453064, "t_tg": 3.503684, "speed_tg": 36.532974, "t": 3.737494, "speed": 68.495094}"#
        let j = try BatchedBenchImport.parse(jsonl, file: "bb.jsonl")
        #expect(j.count == 2 && j[0].samplesTs == [547.453064] && j[1].nDepth == 128)
    }

    @Test(arguments: [
        ("", "empty file"),
        ("hello world\n", "not CSV, JSON, JSONL or a Markdown table"),
        ("a,b\n1,2\n", "not llama-bench output: no field 'n_prompt'"),
        ("{\"n_prompt\": 1\n", "line 2: the JSON ends inside an object (a truncated file?)"),
        ("| x | y |\n|---|---|\n| 1 | 2 |\n", "not llama-bench Markdown"),
        ("\"n_prompt\",\"n_gen\",\"avg_ts\"\n\"lots\",\"0\",\"1\"\n", "line 2: field 'n_prompt': expected an integer 0...1073741824, got 'lots'"),
    ])
    func malformedLlamaBenchInputIsRejectedClearly(text: String, message: String) {
        #expect {
            try LlamaBenchImport.parse(text, file: "x.txt")
        } throws: { error in
            "\(error)".hasPrefix("x.txt: ") && "\(error)".contains(message)
        }
    }

    @Test func llamaBenchOutputIsNotBatchedBench() {
        #expect(throws: ImportError.self) {
            try BatchedBenchImport.parse("\"n_prompt\",\"n_gen\",\"avg_ts\"\n\"512\",\"0\",\"1\"\n", file: "x.csv")
        }
    }
}

@Suite struct StatisticsForReportsTests {
    @Test func mannWhitneyExactAndApproximate() throws {
        let separated = try #require(MannWhitney.test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]))
        #expect(separated.u == 0 && separated.exact && abs(separated.p - 2.0 / 252) < 1e-12)
        let same = try #require(MannWhitney.test([1, 3, 5, 7], [2, 4, 6, 8]))
        #expect(same.p > 0.5)
        // Exact distribution: every arrangement counted once, symmetric.
        let counts = MannWhitney.distribution(4, 6)
        #expect(counts.reduce(0, +) == 210 && counts == counts.reversed())
        // Ties use the normal approximation; with 10 v 10 it agrees with the exact test roughly.
        let a = (0..<10).map(Double.init), b = (0..<10).map { Double($0) + 4.5 }
        let exact = try #require(MannWhitney.test(a, b))
        let tied = try #require(MannWhitney.test(a + [3], b + [3]))
        #expect(exact.exact && !tied.exact && abs(exact.p - tied.p) < 0.05)
        #expect(abs(MannWhitney.smallestP(3, 3) - 0.1) < 1e-12)
    }

    @Test func linearFitAndNormalQuantile() throws {
        let fit = try #require(LinearFit(x: [0, 1, 2, 3], y: [1, 3, 5, 7]))
        #expect(abs(fit.slope - 2) < 1e-12 && abs(fit.intercept - 1) < 1e-12 && abs(fit.rSquared - 1) < 1e-12)
        #expect(LinearFit(x: [1, 1], y: [1, 2]) == nil)
        #expect(abs(Comparison.normalQuantile(0.975) - 1.959964) < 1e-5)
        #expect(abs(Comparison.normalQuantile(0.8) - 0.841621) < 1e-5)
    }
}

/// Gate verdicts and exit codes on runs with known samples.
@Suite struct GateTests {
    static func write(_ samples: [String: [Double]], cpu: String = "Test CPU", limit: Double? = nil, probe: Double? = nil,
                      to dir: URL) throws {
        let measurements = samples.keys.sorted().map { test in
            ImportedMeasurement(platform: "bench", backend: "CPU", model: "m", weightType: "q8_0", cacheType: "f16", threads: 2,
                                nPrompt: test.hasPrefix("pp") ? 64 : 0, nGen: test.hasPrefix("tg") ? 16 : 0,
                                nDepth: Int(test.split(separator: "d").last!)!, samplesNs: samples[test]!.map { 1e9 / $0 },
                                samplesTs: samples[test]!, cpuInfo: cpu)
        }
        var run = ImportedRun.make(measurements, source: "test", file: "t", platformName: nil, commandLine: [])[0]
        if let probe {
            for i in run.cells.indices {
                run.cells[i].probeReadGBps = run.cells[i].samplesTs.map { _ in probe }
                run.cells[i].probeFMAGFLOPs = run.cells[i].samplesTs.map { _ in probe }
            }
        }
        if let limit {
            let spread = Spread([limit])
            run.metadata.limits = [MachineLimits(threads: 2, dramReadGBps: spread, copyGBps: spread, cacheReadGBps: spread,
                                                 fmaGFLOPs: spread, forkJoinMicroseconds: 1)]
        }
        try run.write(to: dir.path)
    }

    /// Deterministic noise: rates around `center` with relative spread `cv`.
    static func samples(_ center: Double, cv: Double, n: Int = 9, seed: Int = 1) -> [Double] {
        (0..<n).map { i in
            let u = Double((i * 7919 + seed * 104_729) % 1000) / 1000 - 0.5
            return center * (1 + cv * 3.4 * u)
        }
    }

    static func gate(_ base: [String: [Double]], _ candidate: [String: [Double]], options: Gate.Options = Gate.Options(),
                     baseCPU: String = "Test CPU", candidateCPU: String = "Test CPU",
                     baseLimit: Double? = nil, candidateLimit: Double? = nil,
                     baseProbe: Double? = nil, candidateProbe: Double? = nil) throws -> Gate {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-gate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        try write(base, cpu: baseCPU, limit: baseLimit, probe: baseProbe, to: work.appendingPathComponent("base"))
        try write(candidate, cpu: candidateCPU, limit: candidateLimit, probe: candidateProbe, to: work.appendingPathComponent("candidate"))
        return Gate.run(baselinePath: work.appendingPathComponent("base").path,
                            candidatePath: work.appendingPathComponent("candidate").path, options: options)
    }

    @Test func verdictsAndExitCodes() throws {
        let base = ["pp@d0": Self.samples(100, cv: 0.01), "tg@d0": Self.samples(50, cv: 0.01)]
        #expect(try Self.gate(base, ["pp@d0": Self.samples(100, cv: 0.01, seed: 2), "tg@d0": Self.samples(50, cv: 0.01, seed: 2)]).outcome == .pass)
        let slower = try Self.gate(base, ["pp@d0": Self.samples(85, cv: 0.01, seed: 2), "tg@d0": Self.samples(50, cv: 0.01, seed: 2)])
        #expect(slower.outcome == .regression && slower.text.contains("REGRESSION"))
        // The verdict line both gates end with: the outcome, its exit code, the cells per verdict.
        #expect(slower.text.hasSuffix("gate: REGRESSION (exit 2): 0 improvement, 0 inconclusive, 1 regression, 1 unchanged\n"))
        #expect(try Self.gate(base, ["pp@d0": Self.samples(120, cv: 0.01, seed: 2), "tg@d0": Self.samples(50, cv: 0.01, seed: 2)]).outcome == .improvementsOnly)
        // 4% slower, significant but within a 5% threshold: passes.
        #expect(try Self.gate(base, ["pp@d0": Self.samples(96, cv: 0.005, seed: 2), "tg@d0": Self.samples(50, cv: 0.01, seed: 2)]).outcome == .pass)
    }

    @Test func fewOrNoisySamplesAreInconclusive() throws {
        let few = try Self.gate(["pp@d0": [100, 101]], ["pp@d0": [80, 81]])
        #expect(few.outcome == .inconclusive && few.text.contains("too few samples"))
        let noisy = try Self.gate(["pp@d0": Self.samples(100, cv: 0.4)], ["pp@d0": Self.samples(97, cv: 0.4, seed: 3)])
        #expect(noisy.outcome == .inconclusive && noisy.text.contains("smallest change these samples could detect"))
    }

    @Test func missingBaselineAndHardware() throws {
        let runs = ["pp@d0": Self.samples(100, cv: 0.01)]
        let missing = Gate.run(baselinePath: "/nonexistent/run", candidatePath: "/nonexistent/other", options: Gate.Options())
        #expect(missing.outcome == .noBaseline)
        // The candidate lacks the baseline's cell (and has one the baseline lacks): it fails closed.
        #expect(try Self.gate(runs, ["tg@d0": Self.samples(100, cv: 0.01)]).outcome == .candidateFailed)
        #expect(try Self.gate(runs, runs, candidateCPU: "Other CPU").outcome == .hardwareMismatch)
        var allow = Gate.Options()
        allow.allowHardwareMismatch = true
        let allowed = try Self.gate(runs, runs, options: allow, candidateCPU: "Other CPU")
        #expect(allowed.outcome == .pass && allowed.text.contains("warning: hardware differs"))
    }

    /// A candidate that did not produce what the baseline has fails the gate with exit 7 and the
    /// list of cells: failed, non-finite, missing, an interrupted run, a missing or empty run.
    @Test func incompleteCandidatesFailClosed() throws {
        let base = ["pp@d0": Self.samples(100, cv: 0.01), "tg@d0": Self.samples(50, cv: 0.01), "tg@d512": Self.samples(40, cv: 0.01)]
        let good = ["pp@d0": Self.samples(100, cv: 0.01, seed: 2), "tg@d0": Self.samples(50, cv: 0.01, seed: 2),
                    "tg@d512": Self.samples(40, cv: 0.01, seed: 2)]
        #expect(try Self.gate(base, good).outcome == .pass)
        var nan = good
        nan["tg@d0"] = [.nan, .nan, .nan]
        let nanGate = try Self.gate(base, nan)
        #expect(nanGate.outcome == .candidateFailed && nanGate.outcome.rawValue == 7)
        #expect(nanGate.text.hasSuffix("gate: CANDIDATE FAILED (exit 7)\n"))
        #expect(nanGate.text.contains("m/q8_0/f16/t2/-/computed/tg16@d0: no finite sample in the candidate"))
        var missing = good
        missing["tg@d512"] = nil
        let missingGate = try Self.gate(base, missing)
        #expect(missingGate.outcome == .candidateFailed && missingGate.text.contains("tg16@d512: missing from the candidate"))
        // Seven of eight cells failed (the case that once passed as "1 unchanged"): fails, listing all seven.
        let eight = Dictionary(uniqueKeysWithValues: (0..<8).map { ("tg@d\($0 * 64)", Self.samples(50, cv: 0.01)) })
        var broken = eight
        for key in eight.keys where key != "tg@d0" { broken[key] = [.nan] }
        let brokenGate = try Self.gate(eight, broken)
        #expect(brokenGate.outcome == .candidateFailed && brokenGate.text.contains("did not produce 7 cell(s)"))
        // A failed cell of the baseline cannot vouch for the candidate: inconclusive, not pass.
        var baseFailed = base
        baseFailed["tg@d512"] = [.nan]
        #expect(try Self.gate(baseFailed, good).outcome == .inconclusive)
    }

    @Test func missingEmptyOrCorruptRunsGetTheirCodes() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-gate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let runs = ["pp@d0": Self.samples(100, cv: 0.01)]
        let base = work.appendingPathComponent("base"), empty = work.appendingPathComponent("empty")
        try Self.write(runs, to: base)
        try Self.write(runs, to: empty)
        try Data().write(to: empty.appendingPathComponent("cells.jsonl"))
        let options = Gate.Options()
        #expect(Gate.run(baselinePath: base.path, candidatePath: work.appendingPathComponent("absent").path, options: options).outcome == .candidateFailed)
        let emptyGate = Gate.run(baselinePath: base.path, candidatePath: empty.path, options: options)
        #expect(emptyGate.outcome == .candidateFailed && emptyGate.text.contains("has no finished cells"))
        // An interrupted candidate that finished none of the baseline's cells.
        var metadata = try RunDirectory(existing: empty.path).readMetadata()
        metadata.status = "interrupted"
        try RunDirectory(existing: empty.path).writeMetadata(metadata)
        #expect(Gate.run(baselinePath: base.path, candidatePath: empty.path, options: options).text.contains("status interrupted"))
        // A corrupt baseline run.json: the baseline cannot be used (5), with the file and the problem.
        try Data("{ \"schemaVersion\": 1, ".utf8).write(to: base.appendingPathComponent("run.json"))
        let corrupt = Gate.run(baselinePath: base.path, candidatePath: empty.path, options: options)
        #expect(corrupt.outcome == .noBaseline && corrupt.text.contains("run.json: not a ctxbench run.json"))
    }

    @Test func efficiencyNormalizationComparesFractionsOfEachRunsLimits() throws {
        // The candidate ran 20% slower on a moment when the machine measured 20% slower too.
        let base = ["pp@d0": Self.samples(100, cv: 0.01)], candidate = ["pp@d0": Self.samples(80, cv: 0.01, seed: 2)]
        #expect(try Self.gate(base, candidate, baseLimit: 200, candidateLimit: 200).outcome == .regression)
        var options = Gate.Options()
        options.normalize = .efficiency
        #expect(try Self.gate(base, candidate, options: options, baseLimit: 200, candidateLimit: 160).outcome == .pass)
        // Without limits there is nothing to normalize by: the baseline cannot be used.
        #expect(try Self.gate(base, candidate, options: options).outcome == .noBaseline)
        // Probes taken beside each sample take precedence over the run's calibration.
        #expect(try Self.gate(base, candidate, options: options, baseLimit: 200, candidateLimit: 200,
                              baseProbe: 200, candidateProbe: 160).outcome == .pass)
        #expect(try Self.gate(base, candidate, options: options, baseLimit: 200, candidateLimit: 160,
                              baseProbe: 200, candidateProbe: 200).outcome == .regression)
    }
}

/// The side-by-side table's standing per cell: the issue's targets (>= 1.25x the other engine, or
/// within 10% of the limit that bounds the test).
@Suite struct EngineComparisonTests {
    @Test func standingFollowsTheTargets() {
        #expect(EngineComparison.standing(ratio: 1.25, limit: nil) == "ahead")
        #expect(EngineComparison.standing(ratio: 1.24, limit: 0.9) == "at limit")
        #expect(EngineComparison.standing(ratio: 1.24, limit: 0.89) == "behind")
        #expect(EngineComparison.standing(ratio: 0.5, limit: nil) == "behind")
    }
}
