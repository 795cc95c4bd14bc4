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

    /// The llama-bench binary of an engine: its `bin` folder; else the build scripts/setup-llama-cpp
    /// made (.build/llama.cpp/bin, above the working directory or the executable); else PATH.
    public static func executable(_ engine: Suite.Engine) -> String {
        if let bin = engine.bin { return (bin as NSString).appendingPathComponent("llama-bench") }
        var candidates = [FileManager.default.currentDirectoryPath]
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        for _ in 0..<6 { url.deleteLastPathComponent(); candidates.append(url.path) }
        for directory in candidates {
            let path = (directory as NSString).appendingPathComponent(".build/llama.cpp/bin/llama-bench")
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = (String(directory) as NSString).appendingPathComponent("llama-bench")
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return "llama-bench"  // not found: starting it fails, and the cell says so
    }
}

extension SuiteRunner {
    /// Runs cells on a llama.cpp engine, one llama-bench process per cell and session. A binary that
    /// is missing or crashes, a model that does not load, an out-of-memory or a timeout is a failed
    /// cell with the tail of llama.cpp's stderr; the sweep goes on. Returns true when interrupted
    /// (the cell in progress is not recorded and re-runs on resume).
    func runLlamaBench(_ cells: [Cell], eta: ETA, done: inout Int, total: Int) throws -> Bool {
        let suite = plan.suite
        guard let directory = sink as? RunDirectory else {
            for cell in cells { try record(failure(cell, .refused, "llama.cpp cells run only into a run directory (ctxbench run)")); done += 1 }
            return false
        }
        let outputDirectory = directory.file("llama.cpp")
        try? FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        for cell in cells {
            if interrupted { return true }
            if suite.delaySeconds > 0, done > 0 { Thread.sleep(forTimeInterval: suite.delaySeconds) }
            let engine = suite.engines[cell.engine]
            let executable = LlamaBenchInvocation.executable(engine)
            var result = skeleton(cell)
            var samples: [Double] = []
            var problem: String? = nil
            for session in 0..<suite.sessions {
                let repetitions = suite.repetitions.share(ofSession: session, sessions: suite.sessions) ?? suite.repetitions.minimum
                if repetitions == 0 { continue }
                progress(cell, done: done, total: total, eta: eta, note: "llama-bench, \(repetitions) repetitions")
                let stem = (outputDirectory as NSString).appendingPathComponent("cell-\(cell.index)" + (suite.sessions > 1 ? "-s\(session)" : ""))
                let arguments = LlamaBenchInvocation.arguments(cell: cell, suite: suite, repetitions: repetitions)
                try? (([executable] + arguments).map(Self.shellQuoted).joined(separator: " ") + "\n")
                    .write(toFile: stem + ".cmd", atomically: true, encoding: .utf8)
                let child = ChildProcess.run(executable, arguments, stdoutFile: stem + ".jsonl", stderrFile: stem + ".stderr",
                                             timeoutSeconds: engine.timeoutSeconds, stopWhen: { SuiteRunner.interruptRequested })
                if interrupted { return true }
                if let failure = child.failure { problem = "llama-bench \(failure)"; break }
                do {
                    let text = try String(contentsOfFile: stem + ".jsonl", encoding: .utf8)
                    let measured = try LlamaBenchImport.parse(text, file: stem + ".jsonl")
                    guard measured.count == 1, let m = measured.first else {
                        problem = "llama-bench printed \(measured.count) results for one test (\(stem).jsonl)"; break
                    }
                    guard m.nPrompt == cell.test.promptTokens, m.nGen == cell.test.generatedTokens, m.nDepth == cell.depth else {
                        problem = "llama-bench ran \(m.testLabel), not \(cell.testLabel) (\(stem).jsonl)"; break
                    }
                    if let error = m.error { problem = "llama-bench: \(error)"; break }
                    for (i, ns) in m.samplesNs.enumerated() {
                        try sink.appendSample(.init(cellID: cell.id(in: suite), repetition: samples.count + i, ns: ns,
                                                    tokens: cell.test.tokens, tokenNs: nil))
                    }
                    samples += m.samplesNs
                    if let row = try ImportFormat.jsonRows(text, file: stem + ".jsonl").first {
                        noteBuild(LlamaCppBuild(engine: engine.label, bin: executable, commit: row.string("build_commit"),
                                                buildNumber: row.string("build_number"), backends: row.string("backends"),
                                                cpuInfo: row.string("cpu_info"), gpuInfo: row.string("gpu_info")))
                    }
                } catch {
                    problem = "llama-bench output unreadable: \(error)"; break
                }
            }
            if let problem {
                result.status = .failed
                result.error = problem
            } else {
                let rates = samples.map { Double(cell.test.tokens) * 1e9 / $0 }
                result.samplesNs = samples
                result.samplesTs = rates
                result.rate = SampleStatistics(rates)
                efficiency(cell, &result, meanNs: samples.reduce(0, +) / Double(samples.count))
            }
            result.finishedAt = Self.timestamp()
            try record(result)
            done += 1
        }
        return false
    }

    /// Records a llama.cpp build the first time an engine reports it.
    func noteBuild(_ build: LlamaCppBuild) {
        if !llamaBuilds.contains(where: { $0.engine == build.engine }) { llamaBuilds.append(build) }
    }

    static func shellQuoted(_ word: String) -> String {
        word.allSatisfy { $0.isLetter || $0.isNumber || "-_./,=:+@".contains($0) } ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
