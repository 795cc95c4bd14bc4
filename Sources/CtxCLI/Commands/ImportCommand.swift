import CtxHarness
import Foundation

/// `ctxbench import llama-bench|batched-bench FILE`: other tools' results as run directories.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "import",
        abstract: "Import llama-bench (csv, json, jsonl, md) or llama-batched-bench (md, jsonl, csv) results as run directories.",
        discussion: """
        Fields are read by name, extra fields are ignored, and non-numbers such as nan become failed
        cells. Each platform in the file becomes one run directory: --out DIR when there is one,
        DIR/<platform> for each when there are several. llama-batched-bench's output does not name
        the model or its quantization: give them with --model and --quant. Rows become cells in
        llama-bench's terms: ppN (S_PP, prefill of N from empty) and tgM @ dN (S_TG).
        """,
        arguments: [ArgumentSpec("tool", help: "llama-bench or batched-bench."), ArgumentSpec("file", help: "The tool's output.")],
        options: [
            .value("--platform", "name", help: "Platform name for reports (default: the file's, or its CPU)."),
            .value("--out", "dir", help: "Run directory.", note: "results/runs/import-<tool>-<platform>-<UTC time>"),
            .value("--model", "name", help: "Model name (batched-bench output lacks it)."),
            .value("--quant", "type", help: "Weight type (batched-bench output lacks it)."),
            .value("--cache-type", "type", help: "KV cache type (batched-bench output lacks it).", default: "f16"),
        ]
    )

    enum Tool: String { case llamaBench = "llama-bench", batchedBench = "batched-bench" }

    let tool: Tool
    let file: String
    let platform: String?
    let out: String?
    var defaults = BatchedBenchImport.Defaults()
    let arguments: [String]

    init(parsed: ParsedArguments) throws {
        guard parsed.positionals.count == 2 else { throw UsageError("expected: import llama-bench|batched-bench FILE") }
        guard let t = Tool(rawValue: parsed.positionals[0]) else {
            throw UsageError("unknown format '\(parsed.positionals[0])': expected llama-bench or batched-bench")
        }
        tool = t
        file = parsed.positionals[1]
        platform = parsed.string("--platform")
        out = parsed.string("--out")
        if let m = parsed.string("--model") { defaults.model = m }
        if let q = parsed.string("--quant") { defaults.weightType = q }
        if let c = parsed.string("--cache-type") { defaults.cacheType = c }
        arguments = CommandLine.arguments
    }

    func run(io: CommandIO) throws -> Int32 {
        let text = try FileError.readText(file, what: "\(tool.rawValue) output")
        let measurements = tool == .llamaBench ? try LlamaBenchImport.parse(text, file: file)
            : try BatchedBenchImport.parse(text, file: file, defaults: defaults)
        let runs = ImportedRun.make(measurements, source: tool == .llamaBench ? "llama-bench" : "llama-batched-bench",
                                    file: file, platformName: platform, commandLine: arguments)
        // Every target decided and checked before anything is written: platforms whose names
        // reduce to the same directory name get -2, -3...; an existing target refuses the import.
        let stamp = RunDirectory.timestampForNames()
        var used: [String: Int] = [:]
        let paths = runs.map { run -> String in
            var slug = ImportedRun.slug(run.metadata.platformName ?? "unknown")
            if slug.isEmpty { slug = "platform" }
            used[slug, default: 0] += 1
            if used[slug]! > 1 { slug += "-\(used[slug]!)" }
            return out.map { runs.count == 1 ? $0 : ($0 as NSString).appendingPathComponent(slug) }
                ?? "results/runs/import-\(tool.rawValue)-\(slug)-\(stamp)"
        }
        for path in paths where FileError.kind(of: path) != nil {
            throw ImportError(path, "already exists; choose another --out (nothing was imported)")
        }
        for (run, path) in zip(runs, paths) {
            try run.write(to: path)
            let failed = run.cells.filter { $0.status != .ok }.count
            io.out("\(path): \(run.metadata.platformName ?? "?"), \(run.cells.count) cells" + (failed > 0 ? " (\(failed) without a rate)" : "") + "\n")
        }
        return ExitCode.success
    }
}
