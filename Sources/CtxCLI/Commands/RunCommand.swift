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
        let cells = plan.cells(of: setup)
        let m = plan.memory(of: setup)
        let fits = available <= 0 || m.total <= 0.9 * available
        if !fits { refused += cells.count }
        let seconds = cells.reduce(0.0) { $0 + plan.estimatedSeconds($1, gflops: 50, gbps: 10) }
        totalSeconds += fits ? seconds : 0
        let engine = suite.engines.count > 1 ? suite.engines[setup.engine].label + ": " : ""
        lines.append("| \(engine)\(suite.models[setup.model].label) \(setup.recipe) \(setup.cacheType.rawValue) t\(setup.threads) \(setup.numa.rawValue) \(setup.fill.rawValue) | \(cells.count) | \(gib(m.weights)) | \(gib(m.cache)) | \(gib(m.state)) | \(gib(m.total)) | "
                     + (fits ? "yes" : "NO: refused (\(gib(available)) available)") + " | \(ETAText.format(seconds)) |")
    }
    if !plan.skipped.isEmpty { lines += [""] + plan.skipped.map { "not in the grid: \($0)" } }
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
        Results go to results/runs/<suite>-<host>-<UTC time>-p<pid>/ (or --out, which must be new or
        empty; --force moves a non-empty one aside): run.json, samples.jsonl and cells.jsonl (appended
        and flushed per sample and per cell), cells.csv, ops.csv, ladder.csv and summary.md (rewritten
        atomically after every cell). A failed or refused cell is a row with its status and error; the
        sweep goes on. A run holds a lock on its directory: a second run into it is refused. Ctrl-C or
        SIGTERM finishes the current sample, writes, and exits (130 or 143; a second one exits at once);
        --resume DIR continues a killed or interrupted run with the suite and shard it recorded,
        without losing or repeating a cell. --shard i/n runs every n-th cell starting at i, so n
        machines can share a grid.
        Exit status: 0 all cells ok, 1 some cells failed or were refused, 130/143 interrupted.
        """,
        arguments: [ArgumentSpec("suite", help: "A suite file, or a name in suites/.", optional: true)],
        options: [
            .value("--out", "dir", help: "Run directory (new or empty).", note: "results/runs/<suite>-<host>-<UTC time>-p<pid>"),
            .value("--resume", "dir", help: "Continue the run in this directory."),
            .flag("--force", help: "Move a non-empty --out directory aside (renamed, never deleted) and start there."),
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
    var force: Bool
    let arguments: [String]

    init(parsed: ParsedArguments) throws {
        suite = parsed.positionals.first
        out = parsed.string("--out")
        resume = parsed.string("--resume")
        if let text = parsed.string("--shard") {
            guard let parsedShard = Self.parseShard(text) else {
                throw UsageError("option '--shard' expects i/n with 0 <= i < n, got '\(text)'")
            }
            shard = parsedShard
        }
        force = parsed.flag("--force")
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
        if force && resume != nil { throw UsageError("--force and --resume cannot be used together: --resume continues the run in place") }
    }

    func run(io: CommandIO) throws -> Int32 {
        let platform = PlatformInfo.probe()
        let plan: SuitePlan, suiteFile: String
        var directory: RunDirectory? = nil
        if let resume {
            // Resume what the directory says it was running: the suite as recorded in run.json (so
            // it works from any working directory, and an edited suite file changes nothing) and
            // the same shard. A suite or shard given here must be that one.
            // Checked before anything is created: a mistyped path must not leave an empty directory.
            guard RunDirectory.holdsRun(resume) else {
                throw UsageError("--resume: '\(resume)' is not a ctxbench run directory (no run.json)")
            }
            let run = try RunDirectory.resume(path: resume)
            directory = run
            let metadata = try run.readMetadata()
            let recorded: Suite
            do { recorded = try Suite.parse(metadata.suite, file: metadata.suiteFile) } catch {
                throw RunDirectory.Refusal(message: "--resume: \(run.file(RunDirectory.metadataFile)) holds a suite this version cannot read (\(error))")
            }
            let recordedHash = metadata.suiteHash ?? recorded.contentHash
            if let suite {
                let path = try resolveSuitePath(suite)
                let given = try Suite.load(path: path)
                if given.contentHash != recordedHash {
                    throw RunDirectory.Refusal(message: "--resume: \(path) (suite hash \(given.contentHash.prefix(12))) is not the suite this run started with "
                        + "(\(metadata.suiteFile), hash \(recordedHash.prefix(12))); resuming it would mix two plans. "
                        + "Resume without a suite argument to finish the recorded plan, or start a new run with --out")
                }
            } else if let current = try? Suite.load(path: metadata.suiteFile), current.contentHash != recordedHash, !quiet {
                io.err("note: \(metadata.suiteFile) changed since this run started; resuming the suite as recorded in run.json\n")
            }
            let recordedShard = metadata.shard.flatMap(Self.parseShard)
            if let shard, metadata.shard != "\(shard.index)/\(shard.count)" {
                throw RunDirectory.Refusal(message: "--resume: this run is " + (metadata.shard.map { "shard \($0)" } ?? "not sharded")
                    + ", not shard \(shard.index)/\(shard.count); resume it without --shard")
            }
            if metadata.platform.hardwareKey != platform.hardwareKey {
                throw RunDirectory.Refusal(message: "--resume: this run started on other hardware (\(metadata.platform.hardwareKey)); "
                    + "this machine is \(platform.hardwareKey). Its results would mix two machines; start a new run")
            }
            plan = SuitePlan(suite: recorded, shard: recordedShard)
            let planned = Set(plan.cells.map { $0.id(in: recorded) })
            let strays = run.finishedCells().map(\.cellID).filter { !planned.contains($0) }
            if !strays.isEmpty {
                throw RunDirectory.Refusal(message: "--resume: \(strays.count) finished cell(s) of \(resume) are not in its recorded plan "
                    + "(first: \(strays[0])); it was written by another version or edited. Nothing was changed")
            }
            suiteFile = metadata.suiteFile
        } else {
            suiteFile = try resolveSuitePath(suite ?? "quickstart")
            plan = SuitePlan(suite: try Suite.load(path: suiteFile), shard: shard)
        }
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
        if let knob = ProcessInfo.processInfo.environment["CTXBENCH_TEST_EXTRA_WORK"] {
            guard let value = Double(knob), (0...10).contains(value) else {
                throw UsageError("CTXBENCH_TEST_EXTRA_WORK must be a fraction such as 0.05, got '\(knob)'")
            }
            options.testExtraWork = value
        }
        options.commandLine = arguments
        if directory == nil {
            let path = out ?? Self.defaultDirectory(suite: plan.suite.name, shard: shard)
            let (created, movedAside) = try RunDirectory.create(path: path, force: force)
            if let movedAside { io.err("moved the earlier contents of \(path) to \(movedAside)\n") }
            directory = created
        }
        let run = directory!
        SuiteRunner.installInterruptHandler()
        if !quiet { io.err("run directory: \(run.path)\n") }
        let runner = SuiteRunner(plan: plan, suiteFile: suiteFile, sink: run, options: options, log: io.err)
        let outcome = try runner.run(resuming: resume != nil)
        if !quiet, let summary = try? String(contentsOfFile: run.file("summary.md"), encoding: .utf8) {
            io.out(summary)
        }
        switch outcome {
        case .interrupted:
            io.err("interrupted; continue with: ctxbench run --resume \(run.path)\n")
            return SuiteRunner.interruptExitStatus
        case let .complete(failed):
            if failed > 0 { io.err("\(failed) cell(s) did not succeed; see cells.csv\n") }
            return failed > 0 ? ExitCode.failure : ExitCode.success
        }
    }

    /// "1/4" -> (1, 4).
    static func parseShard(_ text: String) -> (index: Int, count: Int)? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let i = parts[0], let n = parts[1], n >= 1, (0..<n).contains(i) else { return nil }
        return (i, n)
    }

    /// results/runs/<suite>-<host>-<UTC time to the millisecond>-p<pid>[-shard<i>of<n>]: unique per
    /// process, so shards started together never share a directory.
    static func defaultDirectory(suite: String, shard: (index: Int, count: Int)?) -> String {
        let host = PlatformInfo.probe().hostname
        let shardPart = shard.map { "-shard\($0.index)of\($0.count)" } ?? ""
        return "results/runs/\(suite)-\(host)-\(RunDirectory.timestampForNames())-p\(getpid())\(shardPart)"
    }
}
