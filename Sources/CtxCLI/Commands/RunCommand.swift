import CtxEngine
import CtxHarness
import Foundation

/// Finds a suite by path, or by name in suites/ ("quickstart" -> suites/quickstart.json5).
func resolveSuitePath(_ argument: String) throws -> String {
    if FileManager.default.fileExists(atPath: argument) { return argument }
    for candidate in ["suites/\(argument).json5", "suites/\(argument)"] where FileManager.default.fileExists(atPath: candidate) {
        return candidate
    }
    let known = ((try? FileManager.default.contentsOfDirectory(atPath: "suites")) ?? [])
        .filter { $0.hasSuffix(".json5") }.map { String($0.dropLast(6)) }.sorted()
    throw UsageError("no suite '\(argument)' (not a file, not in suites/)",
                     hint: known.isEmpty ? nil : "suites here: \(known.joined(separator: ", "))")
}

/// The plan as text: cells, per setup the memory it needs and whether it fits, estimated time.
func describePlan(_ plan: SuitePlan, file: String, platform: PlatformInfo) -> (text: String, refused: Int) {
    let suite = plan.suite
    var lines = ["suite \(suite.name) (\(file)): \(plan.cells.count) cells"
                 + (plan.shard.map { ", shard \($0.index)/\($0.count)" } ?? ""),
                 "tests: \(suite.tests.map(\.label).joined(separator: ", ")); depths: \(suite.depths.map(String.init).joined(separator: ", "))",
                 "fill: \(suite.fills.map(\.rawValue).joined(separator: ", ")); warmup \(suite.warmup); repetitions \(suite.repetitions)", "",
                 "| setup | cells | weights | cache | states | total | fits | estimated time |", "|---|--:|--:|--:|--:|--:|---|--:|"]
    var refused = 0, totalSeconds = 0.0
    let available = Double(platform.memoryAvailableBytes)
    func gib(_ b: Double) -> String { String(format: "%.2f GiB", b / 1_073_741_824) }
    for setup in plan.setups {
        let cells = plan.cells.filter { $0.setup == setup }
        let m = plan.memory(of: setup)
        let fits = available <= 0 || m.total <= 0.9 * available
        if !fits { refused += cells.count }
        let seconds = cells.reduce(0.0) { $0 + plan.estimatedSeconds($1, gflops: 50, gbps: 10) }
        totalSeconds += fits ? seconds : 0
        lines.append("| \(suite.models[setup.model].label) \(setup.recipe) \(setup.cacheType.rawValue) t\(setup.threads) \(setup.numa.rawValue) \(setup.fill.rawValue) | \(cells.count) | \(gib(m.weights)) | \(gib(m.cache)) | \(gib(m.state)) | \(gib(m.total)) | "
                     + (fits ? "yes" : "NO: refused (\(gib(available)) available)") + " | \(ETAText.format(seconds)) |")
    }
    lines += ["", "estimated time: \(ETAText.format(totalSeconds)) (a rough estimate at 50 GFLOP/s and 10 GB/s, before calibration)"]
    return (lines.joined(separator: "\n") + "\n", refused)
}

enum ETAText {
    static func format(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}

/// `ctxbench validate SUITE`: parse, check and print the plan without running anything.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "validate",
        abstract: "Check a suite and print its plan: cells, memory per setup, estimated time.",
        arguments: [ArgumentSpec("suite", help: "A suite file, or a name in suites/.")]
    )

    let suite: String

    init(parsed: ParsedArguments) throws {
        guard let first = parsed.positionals.first else { throw UsageError("missing the suite to validate") }
        suite = first
    }

    func run(io: CommandIO) throws -> Int32 {
        let path = try resolveSuitePath(suite)
        let plan = SuitePlan(suite: try Suite.load(path: path))
        io.out(describePlan(plan, file: path, platform: PlatformInfo.probe()).text)
        return ExitCode.success
    }
}

/// `ctxbench run [SUITE]`: the main job.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "run",
        abstract: "Run a suite: every cell of its grid, results appended as they are produced.",
        discussion: """
        Results go to results/runs/<suite>-<host>-<UTC time>/ (or --out): run.json, samples.jsonl and
        cells.jsonl (appended and flushed per sample and per cell), cells.csv, ops.csv, ladder.csv and
        summary.md (rewritten atomically after every cell). A failed or refused cell is a row with
        its status and error; the sweep goes on. Ctrl-C finishes the current sample, writes, and exits
        (status 130); --resume DIR continues a killed or interrupted run without losing or repeating a
        cell. --shard i/n runs every n-th cell starting at i, so n machines can share a grid.
        Exit status: 0 all cells ok, 1 some cells failed or were refused, 130 interrupted.
        """,
        arguments: [ArgumentSpec("suite", help: "A suite file, or a name in suites/.", optional: true)],
        options: [
            .value("--out", "dir", help: "Run directory.", default: "results/runs/<suite>-<host>-<UTC time>"),
            .value("--resume", "dir", help: "Continue the run in this directory."),
            .value("--shard", "i/n", help: "Run only cells i, i+n, i+2n... of the grid."),
            .flag("--dry-run", help: "Print the plan and exit."),
            .flag("--progress", help: "Progress on stderr even when it is not a terminal."),
            .flag("--quiet", help: "No progress, no table; only errors."),
            .flag("--no-calibrate", help: "Do not measure limits; efficiency fractions stay empty."),
            .flag("--fresh-calibration", help: "Measure limits in this run even if a saved calibration exists."),
        ]
    )

    /// The suite argument; nil when left out (quickstart, or the resumed run's own suite).
    var suite: String?
    var out: String?
    var resume: String?
    var shard: (index: Int, count: Int)?
    var dryRun: Bool
    var progress: Bool
    var quiet: Bool
    var calibrate: Bool
    var freshCalibration: Bool
    let arguments: [String]

    init(parsed: ParsedArguments) throws {
        suite = parsed.positionals.first
        out = parsed.string("--out")
        resume = parsed.string("--resume")
        if let text = parsed.string("--shard") {
            let parts = text.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] >= 1, (0..<parts[1]).contains(parts[0]) else {
                throw UsageError("option '--shard' expects i/n with 0 <= i < n, got '\(text)'")
            }
            shard = (parts[0], parts[1])
        }
        dryRun = parsed.flag("--dry-run")
        quiet = parsed.flag("--quiet")
        progress = parsed.flag("--progress")
        calibrate = !parsed.flag("--no-calibrate")
        freshCalibration = parsed.flag("--fresh-calibration")
        arguments = CommandLine.arguments
    }

    func validate() throws {
        if out != nil && resume != nil { throw UsageError("--out and --resume cannot be used together") }
        if freshCalibration && !calibrate { throw UsageError("'--fresh-calibration' and '--no-calibrate' contradict each other") }
    }

    func run(io: CommandIO) throws -> Int32 {
        var suiteFile = ""
        var shard = self.shard
        var resuming = false
        let directoryPath: String
        if let resume {
            // Resume what the directory says it was running: the same suite file and shard.
            // Checked before anything is created: a mistyped path must not leave an empty directory.
            guard RunDirectory.holdsRun(resume) else {
                throw UsageError("--resume: '\(resume)' is not a ctxbench run directory (no run.json)")
            }
            let metadata = try RunDirectory(existing: resume).readMetadata()
            suiteFile = try suite.map(resolveSuitePath) ?? metadata.suiteFile
            if shard == nil, let s = metadata.shard {
                let p = s.split(separator: "/").compactMap { Int($0) }
                if p.count == 2 { shard = (p[0], p[1]) }
            }
            directoryPath = resume
            resuming = true
        } else {
            suiteFile = try resolveSuitePath(suite ?? "quickstart")
            directoryPath = out ?? Self.defaultDirectory(suite: (suiteFile as NSString).lastPathComponent)
        }
        let suite = try Suite.load(path: suiteFile)
        let plan = SuitePlan(suite: suite, shard: shard)
        let platform = PlatformInfo.probe()
        if dryRun {
            io.out(describePlan(plan, file: suiteFile, platform: platform).text)
            return ExitCode.success
        }
        var options = SuiteRunner.Options()
        options.progress = (progress || io.stderrIsTerminal) && !quiet
        options.quiet = quiet
        options.calibrate = calibrate
        options.freshCalibration = freshCalibration
        if let knob = ProcessInfo.processInfo.environment["CTXBENCH_TEST_SLOWDOWN"] {
            guard let value = Double(knob), (0...10).contains(value) else {
                throw UsageError("CTXBENCH_TEST_SLOWDOWN must be a fraction such as 0.15, got '\(knob)'")
            }
            options.testSlowdown = value
        }
        options.commandLine = arguments
        SuiteRunner.installInterruptHandler()
        let directory = try RunDirectory(path: directoryPath)
        if !quiet { io.err("run directory: \(directoryPath)\n") }
        let runner = SuiteRunner(plan: plan, suiteFile: suiteFile, directory: directory, options: options, log: io.err)
        let outcome = try runner.run(resuming: resuming)
        if !quiet, let summary = try? String(contentsOfFile: directory.file("summary.md"), encoding: .utf8) {
            io.out(summary)
        }
        switch outcome {
        case .interrupted:
            io.err("interrupted; continue with: ctxbench run --resume \(directoryPath)\n")
            return 130
        case let .complete(failed):
            if failed > 0 { io.err("\(failed) cell(s) did not succeed; see cells.csv\n") }
            return failed > 0 ? ExitCode.failure : ExitCode.success
        }
    }

    static func defaultDirectory(suite: String) -> String {
        let name = suite.hasSuffix(".json5") ? String(suite.dropLast(6)) : suite
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        f.timeZone = TimeZone(identifier: "UTC")
        f.locale = Locale(identifier: "en_US_POSIX")
        return "results/runs/\(name)-\(PlatformInfo.probe().hostname)-\(f.string(from: Date()))"
    }
}
