import Foundation

/// A llama.cpp build that ran cells, as llama-bench describes itself in its output (recorded in
/// run.json beside the platform fingerprint).
public struct LlamaCppBuild: Codable, Sendable, Equatable {
    /// The engine's label in the suite.
    public var engine: String
    /// The llama-bench binary that ran.
    public var bin: String
    public var commit: String?
    public var buildNumber: String?
    public var backends: String?
    public var cpuInfo: String?
    public var gpuInfo: String?
}

/// One llama-bench invocation per cell and session: the cell's test, depth, threads, cache type,
/// NUMA policy, repetitions and warmup as llama-bench options, `-o jsonl`, and the engine's own
/// arguments. Its output and stderr are kept in the run directory (`llama.cpp/`).
public enum LlamaBenchInvocation {
    public static func arguments(cell: Cell, suite: Suite, repetitions: Int) -> [String] {
        let engine = suite.engines[cell.engine]
        var a = ["-m", suite.models[cell.model].gguf!.path, "-o", "jsonl", "-r", String(repetitions),
                 "-t", String(cell.threads), "-ctk", cell.cacheType.rawValue, "-ctv", cell.cacheType.rawValue,
                 "-b", String(suite.batch), "-ub", String(suite.microBatch), "-d", String(cell.depth)]
        switch cell.test {
        case let .pp(n): a += ["-p", String(n), "-n", "0"]
        case let .tg(n): a += ["-p", "0", "-n", String(n)]
        case let .pg(p, g): a += ["-p", "0", "-n", "0", "-pg", "\(p),\(g)"]
        }
        if cell.numa != .none { a += ["--numa", cell.numa.rawValue] }
        // llama-bench runs one untimed warmup unless told not to.
        if suite.warmup == 0 { a.append("--no-warmup") }
        return a + engine.args
    }

    /// One llama-batched-bench run for the cell: a pp test at depth 0 is `-npp P -ntg 0`, a tg test
    /// at depth D is `-npp D -ntg M` (the generation after a prefill of D tokens from empty), one
    /// sequence, a context just large enough.
    public static func batchedArguments(cell: Cell, suite: Suite) -> [String] {
        let engine = suite.engines[cell.engine]
        let (pp, tg) = cell.test.promptTokens > 0 ? (cell.test.promptTokens, 0) : (cell.depth, cell.test.generatedTokens)
        var a = ["-m", suite.models[cell.model].gguf!.path, "--output-format", "jsonl", "-c", String(pp + tg + 1),
                 "-npp", String(pp), "-ntg", String(tg), "-npl", "1",
                 "-t", String(cell.threads), "-ctk", cell.cacheType.rawValue, "-ctv", cell.cacheType.rawValue,
                 "-b", String(suite.batch), "-ub", String(suite.microBatch)]
        if cell.numa != .none { a += ["--numa", cell.numa.rawValue] }
        return a + engine.args
    }

    /// The binary of an engine's tool: its `bin` folder; else the build scripts/setup-llama-cpp
    /// made (.build/llama.cpp/bin, above the working directory or the executable); else PATH.
    public static func executable(_ engine: Suite.Engine) -> String {
        let tool = engine.tool.rawValue
        if let bin = engine.bin { return (bin as NSString).appendingPathComponent(tool) }
        var candidates = [FileManager.default.currentDirectoryPath]
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        for _ in 0..<6 { url.deleteLastPathComponent(); candidates.append(url.path) }
        for directory in candidates {
            let path = (directory as NSString).appendingPathComponent(".build/llama.cpp/bin/\(tool)")
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = (String(directory) as NSString).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return tool  // not found: starting it fails, and the cell says so
    }
}

extension SuiteRunner {
    /// Runs cells on a llama.cpp engine, one llama-bench process per cell and session. A binary that
    /// is missing or crashes, a model that does not load, an out-of-memory or a timeout is a failed
    /// cell with the tail of llama.cpp's stderr; the sweep goes on. Returns true when interrupted
    /// (the cell in progress is not recorded and re-runs on resume).
    func runLlamaBench(_ cells: [Cell], eta: ETA, done: inout Int, total: Int) throws -> Bool {
        guard let outputDirectory = try llamaOutputDirectory(cells, done: &done) else { return false }
        if let first = cells.first, let reason = memoryRefusal([first.setup]) {
            for cell in cells { try record(failure(cell, .refused, reason)); done += 1 }
            return false
        }
        for cell in cells {
            var partial = LlamaPartial()
            for k in llamaProcesses(cell).indices {
                if try runLlamaProcess(cell, k, into: &partial, directory: outputDirectory, eta: eta, done: done, total: total) { return true }
                if partial.problem != nil { break }
            }
            try finishLlama(cell, partial)
            done += 1
        }
        return false
    }

    /// The run directory's `llama.cpp/` folder for raw output; nil (the cells recorded as refused)
    /// when results go elsewhere than a run directory.
    func llamaOutputDirectory(_ cells: [Cell], done: inout Int) throws -> String? {
        guard let directory = sink as? RunDirectory else {
            for cell in cells { try record(failure(cell, .refused, "llama.cpp cells run only into a run directory (ctxbench run)")); done += 1 }
            return nil
        }
        let outputDirectory = directory.file("llama.cpp")
        try? FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        return outputDirectory
    }

    /// What a llama.cpp cell gathered over its processes so far.
    struct LlamaPartial {
        var samples: [Double] = []
        var fills: [Double] = []
        var problem: String?
        /// Limits probed right before and after each process, when it ran inside an interleaved
        /// group (whose engine session supplies the probe).
        var probeRead: [Double] = []
        var probeFMA: [Double] = []
    }

    /// The processes a llama.cpp cell runs, as their repetition counts: one per session
    /// (llama-bench, its share of the repetitions) or one per repetition (llama-batched-bench,
    /// which has no repetitions of its own).
    func llamaProcesses(_ cell: Cell) -> [Int] {
        let suite = plan.suite
        return suite.engines[cell.engine].tool == .llamaBench
            ? (0..<suite.sessions).map { suite.repetitions.share(ofSession: $0, sessions: suite.sessions) ?? suite.repetitions.minimum }
            : Array(repeating: 1, count: suite.repetitions.minimum)
    }

    /// Runs of llama-batched-bench for one process of a cell while each succeeds and prints nothing
    /// (see `runLlamaProcess`): at the loss rate seen for a tiny model (6 runs in 14), all 12 runs
    /// print nothing for about one process in 26,000 (0.43^12).
    static let batchedBenchRuns = 12

    /// Runs process `k` of a cell (see `llamaProcesses`), appends its samples to samples.jsonl and
    /// the partial, or sets the partial's problem. Returns true when interrupted.
    func runLlamaProcess(_ cell: Cell, _ k: Int, into partial: inout LlamaPartial, directory outputDirectory: String,
                         eta: ETA, done: Int, total: Int) throws -> Bool {
        let suite = plan.suite
        let processes = llamaProcesses(cell)
        let repetitions = processes[k]
        guard repetitions > 0, partial.problem == nil else { return false }
        if interrupted { return true }
        if suite.delaySeconds > 0, done > 0 || k > 0 { Thread.sleep(forTimeInterval: suite.delaySeconds) }
        let engine = suite.engines[cell.engine]
        let executable = LlamaBenchInvocation.executable(engine)
        progress(cell, done: done, total: total, eta: eta, note: "\(engine.tool.rawValue), process \(k + 1)/\(processes.count)")
        let stem = (outputDirectory as NSString).appendingPathComponent("cell-\(cell.index)" + (processes.count > 1 ? "-\(k)" : ""))
        let arguments = engine.tool == .llamaBench
            ? LlamaBenchInvocation.arguments(cell: cell, suite: suite, repetitions: repetitions)
            : LlamaBenchInvocation.batchedArguments(cell: cell, suite: suite)
        try? (([executable] + arguments).map(Self.shellQuoted).joined(separator: " ") + "\n")
            .write(toFile: stem + ".cmd", atomically: true, encoding: .utf8)
        // llama-batched-bench prints its results through llama.cpp's asynchronous logger, which
        // is never flushed at exit (llama.cpp issue 22142): the line is lost when the process
        // exits before the logger's thread writes it, most often for tiny models that free fast
        // (here 3 runs in 20 on a loaded machine; 6 in 14 for a 4-layer 64-wide model, and one
        // CI run lost 5 in a row), and one CI run got it twice, the second copy without its
        // opening brace (the logger's thread and exit's flush of stdout racing). A run that
        // succeeded and printed no single well-formed row is run again, up to `batchedBenchRuns`
        // runs in all; output that was not empty is kept beside the cell's as
        // `cell-N.rejected-K.jsonl` with its stderr, and the cell's sample is the run that parsed.
        var child: ChildProcess
        var attempts = 0
        var text = ""
        var parsed: Result<MeasuredSamples, Error>
        repeat {
            if attempts > 0 { Self.keepRejectedOutput(stem: stem, text: text) }
            child = ChildProcess.run(executable, arguments, stdoutFile: stem + ".jsonl", stderrFile: stem + ".stderr",
                                     timeoutSeconds: engine.timeoutSeconds, stopWhen: { SuiteRunner.interruptRequested })
            attempts += 1
            text = (try? String(contentsOfFile: stem + ".jsonl", encoding: .utf8)) ?? ""
            parsed = Result {
                try engine.tool == .llamaBench ? Self.llamaBenchSamples(text, file: stem + ".jsonl", cell: cell)
                                               : Self.batchedBenchSample(text, file: stem + ".jsonl", cell: cell)
            }
        } while engine.tool == .batchedBench && child.succeeded && attempts < Self.batchedBenchRuns && !interrupted
            && (try? parsed.get()) == nil
        if interrupted { return true }
        if let failure = child.failure { partial.problem = "\(engine.tool.rawValue) \(failure)"; return false }
        let measured: MeasuredSamples
        do {
            measured = try parsed.get()
        } catch {
            partial.problem = "\(engine.tool.rawValue) output: \(error)"; return false
        }
        for (i, ns) in measured.ns.enumerated() {
            try sink.appendSample(.init(cellID: cell.id(in: suite), repetition: partial.samples.count + i, ns: ns,
                                        tokens: cell.test.tokens, tokenNs: nil))
        }
        partial.samples += measured.ns
        if let fill = measured.fillSeconds { partial.fills.append(fill) }
        if !llamaBuilds.contains(where: { $0.engine == engine.label }) {
            if engine.tool == .batchedBench {
                noteBuild(Self.batchedBenchBuild(engine: engine, executable: executable, stem: stem))
            } else if let row = try? ImportFormat.jsonRows(text, file: stem + ".jsonl").first {
                noteBuild(LlamaCppBuild(engine: engine.label, bin: executable, commit: row.string("build_commit"),
                                        buildNumber: row.string("build_number"), backends: row.string("backends"),
                                        cpuInfo: row.string("cpu_info"), gpuInfo: row.string("gpu_info")))
            }
        }
        return false
    }

    /// Records a llama.cpp cell from what its processes gathered: its samples and statistics, or
    /// the first problem as a failed cell.
    func finishLlama(_ cell: Cell, _ partial: LlamaPartial) throws {
        var result = skeleton(cell)
        if let problem = partial.problem {
            result.status = .failed
            result.error = problem
        } else {
            let samples = partial.samples
            if !partial.probeRead.isEmpty {
                result.probeReadGBps = partial.probeRead
                result.probeFMAGFLOPs = partial.probeFMA
            }
            result.samplesNs = samples
            result.samplesTs = samples.map { Double(cell.test.tokens) * 1e9 / $0 }
            result.rate = SampleStatistics(result.samplesTs)
            if !partial.fills.isEmpty {
                // llama-batched-bench's prefill of the depth from empty, median over its processes.
                result.fillSeconds = SampleStatistics.median(partial.fills)
                result.fillFromDepth = 0
            }
            efficiency(cell, &result, meanNs: samples.reduce(0, +) / Double(samples.count))
        }
        if plan.suite.engines[cell.engine].tool == .batchedBench { result.warmup = 1 }  // its own short warmup decode
        result.finishedAt = Self.timestamp()
        try record(result)
    }

    struct MeasuredSamples {
        var ns: [Double]
        var fillSeconds: Double?
    }

    /// llama-bench's one result for the cell: its per-repetition `samples_ns`.
    static func llamaBenchSamples(_ text: String, file: String, cell: Cell) throws -> MeasuredSamples {
        let measured = try LlamaBenchImport.parse(text, file: file)
        guard measured.count == 1, let m = measured.first else { throw ImportError(file, "\(measured.count) results for one test") }
        guard m.nPrompt == cell.test.promptTokens, m.nGen == cell.test.generatedTokens, m.nDepth == cell.depth else {
            throw ImportError(file, "llama-bench ran \(m.testLabel), not \(cell.testLabel)")
        }
        if let error = m.error { throw ImportError(file, error) }
        return MeasuredSamples(ns: m.samplesNs, fillSeconds: nil)
    }

    /// llama-batched-bench's one row: a pp cell's sample is its T_PP (prefill from empty); a tg
    /// cell's is its T_TG after a prefill of the depth, whose T_PP is the fill (S_PP at the depth).
    static func batchedBenchSample(_ text: String, file: String, cell: Cell) throws -> MeasuredSamples {
        let rows = try ImportFormat.jsonRows(text, file: file)
        guard rows.count == 1, let row = rows.first else { throw ImportError(file, "\(rows.count) rows for one test") }
        let pp = try row.int("pp"), tg = try row.int("tg")
        let expected = cell.test.promptTokens > 0 ? (cell.test.promptTokens, 0) : (cell.depth, cell.test.generatedTokens)
        guard (pp, tg) == expected else { throw ImportError(file, "llama-batched-bench ran pp \(pp), tg \(tg), not \(cell.testLabel)") }
        guard let tPP = try row.number("t_pp"), let tTG = try row.number("t_tg") else { throw ImportError(file, "no t_pp or t_tg") }
        if cell.test.promptTokens > 0 {
            guard tPP.isFinite, tPP > 0 else { throw ImportError(file, "t_pp is \(tPP)") }
            return MeasuredSamples(ns: [tPP * 1e9], fillSeconds: nil)
        }
        guard tTG.isFinite, tTG > 0 else { throw ImportError(file, "t_tg is \(tTG)") }
        return MeasuredSamples(ns: [tTG * 1e9], fillSeconds: cell.depth > 0 && tPP.isFinite && tPP > 0 ? tPP : nil)
    }

    /// Keeps the output of a llama-batched-bench run that did not parse (and its stderr) as
    /// `<stem>.rejected-K.jsonl` / `.stderr` before the run is repeated; empty output is no record.
    static func keepRejectedOutput(stem: String, text: String) {
        guard !text.allSatisfy(\.isWhitespace) else { return }
        let files = FileManager.default
        var k = 1
        while files.fileExists(atPath: stem + ".rejected-\(k).jsonl") { k += 1 }
        try? files.moveItem(atPath: stem + ".jsonl", toPath: stem + ".rejected-\(k).jsonl")
        try? files.moveItem(atPath: stem + ".stderr", toPath: stem + ".rejected-\(k).stderr")
    }

    /// llama-batched-bench's results say nothing of its build: `--version` does ("version: 0.5.0-dev
    /// (build 1, commit 0c1e570)").
    static func batchedBenchBuild(engine: Suite.Engine, executable: String, stem: String) -> LlamaCppBuild {
        let child = ChildProcess.run(executable, ["--version"], stdoutFile: stem + ".version", stderrFile: stem + ".version.stderr", timeoutSeconds: 60)
        let text = [stem + ".version", stem + ".version.stderr"].compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.joined()
        func field(_ name: String) -> String? {
            guard child.succeeded, let r = text.range(of: name + " ") else { return nil }
            return String(text[r.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" })
        }
        return LlamaCppBuild(engine: engine.label, bin: executable, commit: field("commit"), buildNumber: field("build"),
                             backends: nil, cpuInfo: nil, gpuInfo: nil)
    }

    /// Records a llama.cpp build the first time an engine reports it.
    func noteBuild(_ build: LlamaCppBuild) {
        if !llamaBuilds.contains(where: { $0.engine == build.engine }) { llamaBuilds.append(build) }
    }

    static func shellQuoted(_ word: String) -> String {
        word.allSatisfy { $0.isLetter || $0.isNumber || "-_./,=:+@".contains($0) } ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
