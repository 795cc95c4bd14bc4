import Foundation
import Testing
@testable import CtxHarness

/// Files written by real llama-bench and llama-batched-bench runs (LlamaCppOutputs/README.md says
/// how they were made), imported and reported without edits. Each llama-bench run wrote two
/// formats at once (`-o` to stdout, `-oe` to stderr), so the formats of one run must agree.
@Suite struct LlamaCppOutputTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("LlamaCppOutputs")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// Imports as `ctxbench import` does and renders every report table.
    static func report(_ measurements: [ImportedMeasurement], source: String, file: String) throws -> Report {
        let runs = ImportedRun.make(measurements, source: source, file: file, platformName: nil, commandLine: [])
        try #require(runs.count == 1)
        let run = LoadedRun(path: file, metadata: runs[0].metadata, cells: runs[0].cells)
        return Report(runs: [run])
    }

    static let llamaBenchTests = ["pp64", "tg16", "pp64 @ d256", "tg16 @ d256"]

    @Test(arguments: [("llama-bench-1.csv", "llama-bench-1.json"), ("llama-bench-2.jsonl", "llama-bench-2.md")])
    func llamaBenchFormatsOfOneRunAgree(first: String, second: String) throws {
        let a = try LlamaBenchImport.parse(Self.text(first), file: first)
        let b = try LlamaBenchImport.parse(Self.text(second), file: second)
        #expect(a.map(\.testLabel) == Self.llamaBenchTests)
        #expect(b.map(\.testLabel) == Self.llamaBenchTests)
        for (x, y) in zip(a, b) {
            #expect(x.error == nil && y.error == nil)
            #expect(x.threads == 2 && y.threads == 2 && x.model == y.model && x.weightType == y.weightType)
            // The Markdown table rounds the mean to 2 decimals; the others carry it in full.
            let meanX = x.samplesTs.reduce(0, +) / Double(x.samplesTs.count)
            let meanY = y.samplesTs.reduce(0, +) / Double(y.samplesTs.count)
            #expect(abs(meanX - meanY) <= 0.006 + 1e-6 * meanX, "\(x.testLabel): \(meanX) vs \(meanY)")
        }
        for (m, file) in [(a, first), (b, second)] {
            let report = try Self.report(m, source: "llama-bench", file: file)
            let degradation = try #require(report.tables.first { $0.name == "degradation" })
            // Columns: series, test, context, t/s, change vs shortest.
            #expect(degradation.rows.filter { $0[1] == "tg16 @ d" }.map { $0[2] } == ["0", "256"])
            #expect(degradation.rows.filter { $0[1] == "pp64 @ d" }.map { $0[2] } == ["0", "256"])
        }
    }

    @Test func llamaBenchJSONKeepsEveryRepetition() throws {
        for file in ["llama-bench-1.json", "llama-bench-2.jsonl"] {
            let m = try LlamaBenchImport.parse(Self.text(file), file: file)
            #expect(m.allSatisfy { $0.samplesTs.count == 3 && $0.samplesNs.count == 3 }, "\(file)")
        }
    }

    @Test(arguments: ["batched-bench.md", "batched-bench.jsonl"])
    func batchedBenchOutputImportsAndReports(file: String) throws {
        var defaults = BatchedBenchImport.Defaults()
        defaults.model = "tiny-random-llama"
        defaults.weightType = "F16"
        let m = try BatchedBenchImport.parse(Self.text(file), file: file, defaults: defaults)
        #expect(m.map(\.testLabel) == ["pp128", "tg32 @ d128", "pp512", "tg32 @ d512"])
        #expect(m.allSatisfy { $0.error == nil && $0.threads == 2 && $0.samplesTs[0] > 0 })
        let report = try Self.report(m, source: "llama-batched-bench", file: file)
        let platforms = try #require(report.tables.first { $0.name == "platforms" })
        #expect(platforms.rows.count == 1)
    }
}
