import Foundation

/// `ctxbench gate --interleave`: two builds of ctxbench on one suite, in one job on one machine,
/// alternating so that the host's drift hits both alike, judged round by round (`PairedRounds`).
///
/// The builds are driven through their command line only (`run SUITE --shard k/n --out DIR`), which
/// every build since sharding understands, so the baseline may be an older commit.
/// - `rate`: every round runs each cell once per build, next to each other, in alternating order
///   (baseline first in one round, candidate first in the next); a round's value is the median of
///   the cell's repetitions in that process.
/// - `instructions`: every round runs the whole suite once per build under callgrind
///   (`InstructionCounter`); a cell's value is its instructions per measured repetition. Counts
///   do not drift with the host, so one round decides; more rounds show they repeat.
///
/// The output directory holds each child run (`runs/`), `rounds.jsonl` (one line per build, round
/// and cell, appended as produced) and `gate.md`.
public struct InterleavedGate {
    public enum Metric: String, CaseIterable, Sendable {
        case rate
        case instructions
    }

    public struct Options: Sendable {
        public var rounds = 8
        public var maxRegression = 0.05
        public var alpha = 0.05
        public var metric = Metric.rate
        /// A child run that takes longer is stopped and counted as failed.
        public var timeoutSeconds = 3600.0
        public init() {}
    }

    public struct Build: Sendable {
        public var role: String
        public var executable: String
        /// What its child runs record as their commit (`--baseline-commit`); else the role and path.
        public var commit: String?
        public init(role: String, executable: String, commit: String? = nil) {
            self.role = role
            self.executable = executable
            self.commit = commit
        }
    }

    /// One build's value for one cell in one round (or why there is none).
    public struct Observation: Codable, Sendable {
        public var round: Int
        public var cellID: String
        public var build: String
        public var value: Double?
        public var error: String?
        public var run: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public struct Result {
        public var gate: Gate
        public var interrupted: Bool
    }

    let suitePath: String
    let plan: SuitePlan
    let baseline: Build
    let candidate: Build
    let out: String
    let options: Options
    let log: (String) -> Void
    var observations: [Observation] = []
    /// Writes of rounds.jsonl or gate.md that failed, each saying what is missing and why.
    var unwritten: [String] = []

    /// Checks everything that can be checked before a child runs: the suite, the builds, valgrind
    /// and single-threaded cells for instruction counts, and a new or empty output directory.
    public init(suitePath: String, baseline: Build, candidate: Build, out: String, options: Options,
                log: @escaping (String) -> Void) throws {
        let suite = try Suite.load(path: suitePath)
        plan = SuitePlan(suite: suite)
        self.suitePath = URL(fileURLWithPath: suitePath).standardizedFileURL.path
        self.baseline = baseline
        self.candidate = candidate
        self.out = URL(fileURLWithPath: out).standardizedFileURL.path
        self.options = options
        self.log = log
        for build in [baseline, candidate] where !FileManager.default.isExecutableFile(atPath: build.executable) {
            throw Failure(message: "--\(build.role)-bin: \(build.executable) is not an executable file")
        }
        if options.metric == .instructions {
            guard InstructionCounter.valgrind() != nil else {
                throw Failure(message: "--metric instructions counts with Valgrind's callgrind, and valgrind is not on PATH (Debian: apt-get install valgrind)")
            }
            if let cell = plan.cells.first(where: { $0.threads != 1 }) {
                throw Failure(message: "\(suitePath): --metric instructions needs single-threaded cells, and \(cell.id(in: suite)) has \(cell.threads) threads "
                              + "(Valgrind runs one thread at a time and would count a waiting worker's spinning); use threads: [1]")
            }
        }
        switch FileError.kind(of: self.out) {
        case nil: break
        case .directory:
            if try !RunDirectory.isEmpty(self.out) {
                throw Failure(message: "--out \(out) is not empty; the gate writes a new directory (choose another)")
            }
        default: throw Failure(message: "--out \(out) exists and is not a directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: self.out + "/runs", withIntermediateDirectories: true)
        } catch { throw FileError("create", self.out + "/runs", reason: "\(error)") }
    }

    /// Runs the rounds, then judges. Interrupted (SIGINT/SIGTERM, or a child stopped by one): the
    /// rounds so far are kept in rounds.jsonl, and no verdict is given.
    public mutating func run() -> Result {
        let cells = plan.cells
        let ids = cells.map { $0.id(in: plan.suite) }
        log("gate: \(options.rounds) round(s) of \(cells.count) cell(s), \(options.metric.rawValue), baseline \(baseline.executable), candidate \(candidate.executable); output in \(out)\n")
        for round in 1...options.rounds {
            switch options.metric {
            case .rate:
                for (k, cell) in cells.enumerated() {
                    for build in order(round + k) {
                        let dir = "\(out)/runs/r\(round)-c\(cell.index)-\(build.role)"
                        let child = ChildProcess.run(build.executable,
                                                     ["run", suitePath, "--shard", "\(cell.index)/\(plan.cells.count)", "--out", dir, "--quiet", "--no-calibrate"],
                                                     environment: environment(build), stderrFile: dir + ".log", timeoutSeconds: options.timeoutSeconds)
                        if stopped(child) { return interruptedResult() }
                        record(rateObservation(round: round, cellID: ids[k], build: build, dir: dir, child: child))
                    }
                }
            case .instructions:
                for build in order(round) {
                    let dir = "\(out)/runs/r\(round)-\(build.role)"
                    let child = ChildProcess.run(InstructionCounter.valgrind()!,
                                                 InstructionCounter.arguments(outputPrefix: dir + ".callgrind", executable: build.executable,
                                                                              arguments: ["run", suitePath, "--out", dir, "--quiet", "--no-calibrate"]),
                                                 environment: environment(build), stderrFile: dir + ".log", timeoutSeconds: options.timeoutSeconds)
                    if stopped(child) { return interruptedResult() }
                    for observation in instructionObservations(round: round, cellIDs: ids, build: build, dir: dir, child: child) {
                        record(observation)
                    }
                }
            }
            log("gate: round \(round)/\(options.rounds) done\n")
        }
        let judged = judge(cellIDs: ids)
        var gate = verdict(judged)
        do { try AtomicFile.write(gate.text, to: out + "/gate.md") } catch {
            noteUnwritten("the verdict is not in gate.md: \(error)")
            gate = verdict(judged)
        }
        return Result(gate: gate, interrupted: false)
    }

    /// This process's environment, but the commit a child run records: the run would otherwise ask
    /// git in the working directory, which names the candidate's commit for both builds.
    func environment(_ build: Build) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["CTXBENCH_GIT_COMMIT"] = build.commit ?? "\(build.role) build \(build.executable)"
        return environment
    }

    /// Baseline first in odd rounds, candidate first in even ones.
    func order(_ parity: Int) -> [Build] { parity % 2 == 1 ? [baseline, candidate] : [candidate, baseline] }

    func stopped(_ child: ChildProcess) -> Bool {
        SuiteRunner.interruptRequested || (!child.signaled && [130, 143].contains(child.status))
    }

    func interruptedResult() -> Result {
        let recorded = unwritten.isEmpty ? "the rounds so far are in" : "the rounds recorded so far are in"
        return Result(gate: Gate(outcome: .inconclusive, text: "gate: interrupted; \(recorded) \(out)/rounds.jsonl, no verdict\n" + failedWrites),
                      interrupted: true)
    }

    /// Keeps the observation for the verdict and appends it to rounds.jsonl. A line that cannot be
    /// written is reported at once and remembered: the gate then gives no pass (`verdict`).
    mutating func record(_ observation: Observation) {
        observations.append(observation)
        let path = out + "/rounds.jsonl"
        do {
            try AppendedFile.append(JSONFormat.encode(observation, pretty: false) + Data("\n".utf8), to: path)
        } catch {
            noteUnwritten("round \(observation.round), \(observation.build), \(observation.cellID) is not in rounds.jsonl: \(error)")
        }
        if let error = observation.error { log("gate: round \(observation.round), \(observation.build), \(observation.cellID): \(error)\n") }
    }

    /// Says at once on stderr that part of the record is missing, and keeps it for the verdict.
    mutating func noteUnwritten(_ problem: String) {
        unwritten.append(problem)
        log("gate: \(problem)\n")
    }

    /// What the values say, before the record is checked: the text above the verdict line, the
    /// outcome, and what follows the outcome on the verdict line.
    struct Judgement {
        var body: String
        var outcome: Gate.Outcome
        var detail: String
    }

    /// The gate's text, its verdict line built here alone. A gate whose record (rounds.jsonl,
    /// gate.md) is incomplete does not pass: a pass or improvements-only becomes inconclusive and
    /// says what the values alone gave; a regression or a failed candidate stays what it is.
    /// Either way the failed writes are listed.
    func verdict(_ judged: Judgement) -> Gate {
        var outcome = judged.outcome, detail = judged.detail
        if !unwritten.isEmpty, [.pass, .improvementsOnly].contains(outcome) {
            outcome = .inconclusive
            detail = ", because the record in \(out) is incomplete; the values alone: \(judged.outcome.name)" + detail
        }
        return Gate(outcome: outcome, text: judged.body + outcome.line(detail) + "\n" + failedWrites)
    }

    /// The writes of the record that failed, the first five and a count of the rest ("" if none).
    var failedWrites: String {
        guard !unwritten.isEmpty else { return "" }
        let shown = 5
        return "gate: \(unwritten.count) write(s) of the gate's record failed:\n" + unwritten.prefix(shown).map { "  \($0)\n" }.joined()
            + (unwritten.count > shown ? "  and \(unwritten.count - shown) more\n" : "")
    }

    /// The median rate of the cell's repetitions in this child's run, or why there is none.
    func rateObservation(round: Int, cellID: String, build: Build, dir: String, child: ChildProcess) -> Observation {
        var observation = Observation(round: round, cellID: cellID, build: build.role, value: nil, error: nil, run: dir)
        guard let run = try? LoadedRun.load(dir), let cell = run.cells.first(where: { $0.cellID == cellID }) else {
            observation.error = child.failure ?? "no result for the cell in \(dir)"
            return observation
        }
        let samples = cell.samplesTs.filter(\.isFinite)
        if cell.status != .ok || samples.isEmpty {
            let why = cell.error ?? (samples.isEmpty ? "no finite sample" : "")
            observation.error = cell.status.rawValue + (why.isEmpty ? "" : ": \(why)")
        } else {
            observation.value = SampleStatistics.median(samples)
        }
        return observation
    }

    /// Each cell's median instructions per measured repetition in this child's run: the dumped
    /// profile parts matched in order to the lines of samples.jsonl.
    func instructionObservations(round: Int, cellIDs: [String], build: Build, dir: String, child: ChildProcess) -> [Observation] {
        func failedAll(_ why: String) -> [Observation] {
            cellIDs.map { Observation(round: round, cellID: $0, build: build.role, value: nil, error: why, run: dir) }
        }
        let counts: [Double]
        do { counts = try InstructionCounter.counts(outputPrefix: dir + ".callgrind") } catch { return failedAll("\(error)") }
        let sampleLines = ((try? String(contentsOfFile: dir + "/samples.jsonl", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { try? JSONFormat.decode(RunDirectory.SampleLine.self, from: Data($0.utf8)) }
        if counts.isEmpty && !sampleLines.isEmpty {
            return failedAll("no instruction counts: this build has no measured region (\(InstructionCounter.regionFunction)); it predates instruction counting")
        }
        guard counts.count == sampleLines.count, !counts.isEmpty else {
            let log = (try? String(contentsOfFile: dir + ".log", encoding: .utf8)) ?? ""
            if let undecoded = InstructionCounter.undecodedInstruction(valgrindLog: log) {
                return failedAll(undecoded)
            }
            return failedAll(child.failure ?? "\(counts.count) counted region(s) for \(sampleLines.count) sample(s) in \(dir)")
        }
        let cells = (try? LoadedRun.load(dir).cells) ?? []
        var perCell: [String: [Double]] = [:]
        for (line, count) in zip(sampleLines, counts) { perCell[line.cellID, default: []].append(count) }
        return cellIDs.map { id in
            var observation = Observation(round: round, cellID: id, build: build.role, value: nil, error: nil, run: dir)
            if let cell = cells.first(where: { $0.cellID == id }), cell.status != .ok {
                observation.error = cell.status.rawValue + (cell.error.map { ": \($0)" } ?? "")
            } else if let values = perCell[id] {
                observation.value = SampleStatistics.median(values)
            } else {
                observation.error = child.failure ?? "no repetition of the cell was counted"
            }
            return observation
        }
    }

    /// Per cell, the rounds both builds produced; a cell the candidate failed in any round fails
    /// the gate (exit 7), one the baseline failed is inconclusive.
    func judge(cellIDs: [String]) -> Judgement {
        var table = ReportTable(name: "gate", title: "Gate (interleaved)",
                                header: ["cell", "baseline", "candidate", "change", "bounds", "rounds", "verdict"], numeric: [1, 2, 3, 5])
        var counts: [Gate.Verdict: Int] = [:]
        var candidateProblems: [String] = []
        var logRatios: [[Double]] = []
        var spreads: [Double] = []
        let higherIsBetter = options.metric == .rate
        for id in cellIDs {
            let mine = observations.filter { $0.cellID == id }
            if let failed = mine.first(where: { $0.build == candidate.role && $0.value == nil }) {
                candidateProblems.append("  \(id): round \(failed.round): \(failed.error ?? "no value")")
                continue
            }
            if let failed = mine.first(where: { $0.build == baseline.role && $0.value == nil }) {
                counts[.inconclusive, default: 0] += 1
                table.rows.append([id, "-", "-", "-", "-", "-", "inconclusive: the baseline build failed in round \(failed.round): \(failed.error ?? "no value")"])
                continue
            }
            let rounds = Set(mine.map(\.round)).sorted()
            func values(_ role: String) -> [Double] { rounds.map { r in mine.first { $0.round == r && $0.build == role }!.value! } }
            let pairs = PairedRounds(baseline: values(baseline.role), candidate: values(candidate.role), higherIsBetter: higherIsBetter)
            let (verdict, why) = pairs.verdict(maxRegression: options.maxRegression, alpha: options.alpha,
                                               minimumRounds: options.metric == .rate ? 3 : 1)
            counts[verdict, default: 0] += 1
            logRatios.append(pairs.logRatios)
            if let s = pairs.baselineSpread { spreads.append(s) }
            let (lower, upper) = pairs.bounds(alpha: options.alpha)
            let digits = higherIsBetter ? 3 : 0
            table.rows.append([id, Format.number(SampleStatistics.median(pairs.baseline), digits), Format.number(SampleStatistics.median(pairs.candidate), digits),
                               Format.percent(pairs.change), "\(Format.percent(lower)) .. \(Format.percent(upper))", "\(pairs.rounds)",
                               why.isEmpty ? verdict.rawValue : "\(verdict.rawValue): \(why)"])
        }
        if !candidateProblems.isEmpty {
            return Judgement(body: "gate: the candidate build did not produce \(candidateProblems.count) cell(s):\n"
                                 + candidateProblems.joined(separator: "\n") + "\n",
                             outcome: .candidateFailed, detail: "; runs in \(out)/runs")
        }
        let unit = higherIsBetter ? "tokens/s, the median of a round's repetitions" : "instructions per repetition (callgrind)"
        table.notes.append(String(format: "Interleaved: %d round(s), both builds on every cell in each round, in alternating order; values in %@, medians over rounds. "
                                  + "change: the mean over rounds of the log ratio candidate/baseline (> 0 better); bounds: its one-sided %.0f%% bounds (Student t over rounds). "
                                  + "A regression is a change whose better bound is still past -%.1f%%.",
                                  options.rounds, unit, 100 * (1 - options.alpha), 100 * options.maxRegression))
        if !spreads.isEmpty {
            table.notes.append(String(format: "A/A: between successive rounds the baseline build alone moved by a median %.1f%% (largest cell median %.1f%%).",
                                      100 * SampleStatistics.median(spreads), 100 * (spreads.max() ?? 0)))
        }
        let perRound = logRatios.first.map { first in first.indices.map { r in logRatios.compactMap { r < $0.count ? $0[r] : nil } } } ?? []
        if !perRound.isEmpty {
            let means = perRound.map { exp($0.reduce(0, +) / Double($0.count)) - 1 }
            table.notes.append("Geometric mean of the cells' changes, round by round: " + means.map { Format.percent($0) }.joined(separator: ", ") + ".")
        }
        return Judgement(body: table.markdown + "\n", outcome: Gate.Outcome(verdicts: counts), detail: ": " + Gate.summary(counts))
    }
}
