import CtxHarness
import Foundation

/// `ctxbench gate --baseline B --candidate C`, or `ctxbench gate --interleave --baseline-bin A
/// --candidate-bin B SUITE`: a CI verdict as an exit code.
struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "gate",
        abstract: "Gate a candidate against a baseline: exit 0 pass, 2 regression, 3 inconclusive, 4 improvements only.",
        discussion: """
        Two forms. With --baseline and --candidate run directories: a cell regresses when it is slower
        by more than --max-regression and the Mann-Whitney U test on the raw samples finds the
        difference significant at --alpha; a cell whose samples are too few or too noisy to show a
        change of that size is inconclusive. --normalize efficiency compares each run's rates as
        fractions of its own calibrated limits (FMA peak for prefill, DRAM bandwidth for generation).
        With --interleave, --baseline-bin and --candidate-bin (two ctxbench executables) and a SUITE:
        both builds run in this job, alternately, cell by cell, for --rounds rounds, and each round's
        ratio candidate/baseline is one unit of a paired test: a regression is a change whose one-sided
        bound is still past --max-regression; a change the rounds cannot place is "inconclusive: host
        too noisy", with the spread they showed. --metric instructions counts the instructions of
        each measured repetition with Valgrind's callgrind instead (single-threaded cells; counts do
        not depend on the host's load). Child runs, rounds.jsonl and gate.md go to --out.
        Either form fails closed: a cell of the baseline that the candidate is missing, failed or
        produced without a finite sample fails the gate (exit 7, with the list of cells); a cell the
        baseline could not produce is inconclusive.
        Exit status: 0 pass, 2 regression, 3 inconclusive, 4 improvements only, 5 baseline missing,
        unreadable or without matching cells, 6 hardware fingerprint differs (unless
        --allow-hardware-mismatch), 7 candidate missing, empty, or with failed or missing cells,
        130 interrupted.
        """,
        arguments: [ArgumentSpec("suite", help: "With --interleave: a suite file, or a name in suites/.", optional: true)],
        options: [
            .value("--baseline", "dir", help: "Baseline run directory."),
            .value("--candidate", "dir", help: "Candidate run directory."),
            .flag("--interleave", help: "Run two builds alternately on SUITE and gate round by round."),
            .value("--baseline-bin", "path", help: "With --interleave: the baseline ctxbench executable."),
            .value("--candidate-bin", "path", help: "With --interleave: the candidate ctxbench executable."),
            .value("--baseline-commit", "text", help: "With --interleave: the commit the baseline's runs record."),
            .value("--candidate-commit", "text", help: "With --interleave: the commit the candidate's runs record."),
            .value("--rounds", "n", help: "With --interleave: rounds (each runs every cell on both builds).", note: "8; 1 for instructions"),
            .value("--out", "dir", help: "With --interleave: new directory for the child runs and the verdict.",
                   note: "results/runs/gate-<suite>-<UTC time>-p<pid>"),
            .value("--max-regression", "pct", help: "Largest slowdown that passes.", default: "5%"),
            .value("--alpha", "p", help: "Significance level.", default: "0.05"),
            .value("--metric", "rate|decode-latency|instructions", help: "What to gate on (instructions: --interleave only).", default: "rate"),
            .choice("--normalize", Comparison.Normalization.self, help: "Compare fractions of calibrated limits (run directories).", default: .none),
            .flag("--allow-hardware-mismatch", help: "Gate runs from different hardware."),
        ]
    )

    var options = Gate.Options()
    var interleaved = InterleavedGate.Options()
    var baseline: String?
    var candidate: String?
    var interleave: Bool
    var baselineBin: String?
    var candidateBin: String?
    var suite: String?
    var out: String?
    var roundsGiven: Bool
    var baselineCommit: String?
    var candidateCommit: String?

    init(parsed: ParsedArguments) throws {
        interleave = parsed.flag("--interleave")
        baseline = parsed.string("--baseline")
        candidate = parsed.string("--candidate")
        baselineBin = parsed.string("--baseline-bin")
        candidateBin = parsed.string("--candidate-bin")
        suite = parsed.positionals.first
        out = parsed.string("--out")
        roundsGiven = parsed.isGiven("--rounds")
        baselineCommit = parsed.string("--baseline-commit")
        candidateCommit = parsed.string("--candidate-commit")
        if let text = parsed.string("--max-regression") {
            let number = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text).map { $0 > 1 ? $0 / 100 : $0 }
            guard let number, number > 0, number < 1 else {
                throw UsageError("option '--max-regression' expects a percentage such as 5% (or 0.05), got '\(text)'")
            }
            options.maxRegression = number
        }
        options.alpha = try parsed.double("--alpha", in: 1e-6...0.5)!
        options.normalize = try parsed.choice("--normalize", as: Comparison.Normalization.self)!
        options.allowHardwareMismatch = parsed.flag("--allow-hardware-mismatch")
        let metric = parsed.string("--metric") ?? "rate"
        if interleave {
            guard let m = InterleavedGate.Metric(rawValue: metric) else {
                throw UsageError("option '--metric' with --interleave expects rate or instructions, got '\(metric)'")
            }
            interleaved.metric = m
            interleaved.rounds = try parsed.int("--rounds", in: 1...1000) ?? (m == .instructions ? 1 : 8)
            interleaved.maxRegression = options.maxRegression
            interleaved.alpha = options.alpha
        } else {
            guard let m = Comparison.Metric(rawValue: metric) else {
                throw UsageError("option '--metric' expects rate or decode-latency for run directories (instructions needs --interleave), got '\(metric)'")
            }
            options.metric = m
        }
    }

    func validate() throws {
        if interleave {
            if baseline != nil || candidate != nil {
                throw UsageError("--interleave runs two builds: give --baseline-bin and --candidate-bin, not run directories")
            }
            guard baselineBin != nil, candidateBin != nil else {
                throw UsageError("--interleave needs --baseline-bin and --candidate-bin (two ctxbench executables)")
            }
            guard suite != nil else { throw UsageError("--interleave needs a suite to run") }
            if options.normalize != .none { throw UsageError("--normalize applies to run directories; interleaved rounds are compared raw") }
        } else {
            for (name, given) in [("--baseline-bin", baselineBin != nil), ("--candidate-bin", candidateBin != nil),
                                  ("--rounds", roundsGiven), ("--out", out != nil),
                                  ("--baseline-commit", baselineCommit != nil), ("--candidate-commit", candidateCommit != nil)] where given {
                throw UsageError("option '\(name)' needs --interleave")
            }
            guard baseline != nil, candidate != nil else {
                throw UsageError("gate needs --baseline DIR and --candidate DIR (run directories), or --interleave with two builds and a suite")
            }
            if suite != nil { throw UsageError("a suite argument needs --interleave") }
        }
    }

    func run(io: CommandIO) throws -> Int32 {
        guard interleave else {
            let gate = Gate.run(baselinePath: baseline!, candidatePath: candidate!, options: options)
            io.out(gate.text)
            return gate.outcome.rawValue
        }
        let path = try resolveSuitePath(suite!)
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let directory = out ?? "results/runs/gate-\(name)-\(RunDirectory.timestampForNames())-p\(getpid())"
        var driver: InterleavedGate
        do {
            driver = try InterleavedGate(suitePath: path, baseline: .init(role: "baseline", executable: baselineBin!, commit: baselineCommit),
                                         candidate: .init(role: "candidate", executable: candidateBin!, commit: candidateCommit),
                                         out: directory, options: interleaved, log: io.err)
        } catch let e as InterleavedGate.Failure {
            throw UsageError(e.message)
        }
        SuiteRunner.installInterruptHandler()
        let result = driver.run()
        io.out(result.gate.text)
        return result.interrupted ? SuiteRunner.interruptExitStatus : result.gate.outcome.rawValue
    }
}
