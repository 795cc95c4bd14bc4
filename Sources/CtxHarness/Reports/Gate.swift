import Foundation

/// `ctxbench gate`: a CI verdict on a candidate run against a baseline, with exit codes in the
/// spirit of package-benchmark's. A cell regresses only when the data show, significantly, a change
/// past the threshold: the candidate's samples, moved by the threshold in its favour, must still be
/// significantly worse (Mann-Whitney U at alpha). A plain "significant and median past the
/// threshold" rule flagged identical builds here: two runs of one build differ by a few percent as
/// a whole (placement, the VM's neighbours), so their samples separate cleanly at a 5% shift.
/// A cell whose samples could not show a change of the threshold's size is inconclusive, and the
/// gate says what change it could have shown.
public struct Gate: Sendable {
    public enum Verdict: String, Sendable {
        case unchanged, improvement, regression, inconclusive
    }

    public enum Outcome: Int32, Sendable {
        case pass = 0
        case regression = 2
        case inconclusive = 3
        case improvementsOnly = 4
        case noBaseline = 5
        case hardwareMismatch = 6
        /// The candidate is missing, unreadable or empty, or a cell the baseline has is missing,
        /// failed or non-finite in it.
        case candidateFailed = 7
    }

    public struct Options: Sendable {
        public var maxRegression = 0.05
        public var alpha = 0.05
        public var metric = Comparison.Metric.rate
        public var normalize = Comparison.Normalization.none
        public var allowHardwareMismatch = false
        public init() {}
    }

    public var outcome: Outcome
    public var text: String

    public static func verdict(_ row: Comparison.Row, options: Options) -> (Verdict, String) {
        let change = row.ratio - 1
        guard let p = row.p, row.detectable.isFinite else {
            return (.inconclusive, "too few samples (\(row.base.count) and \(row.candidate.count)) for a test at alpha \(options.alpha)")
        }
        // Past the threshold, and significantly so: move the candidate by the threshold towards the
        // baseline and test again. ratio is candidate/base for rates and base/candidate for
        // latencies; moving by the threshold multiplies it by 1/(1-t) (worse) or 1/(1+t) (better).
        let t = options.maxRegression
        if p < options.alpha, abs(change) > t {
            let worse = change < 0
            let ratioFactor = worse ? 1 / (1 - t) : 1 / (1 + t)
            let moved = row.candidate.map { $0 * (row.higherIsBetter ? ratioFactor : 1 / ratioFactor) }
            let movedChange = row.ratio * ratioFactor - 1
            if worse ? movedChange < 0 : movedChange > 0, let q = MannWhitney.test(row.base, moved)?.p, q < options.alpha {
                return (worse ? .regression : .improvement, "")
            }
            return (.inconclusive, String(format: "%+.1f%% is past the threshold, but not significantly (moved by the threshold, p = %.3f)",
                                          100 * change, MannWhitney.test(row.base, moved)?.p ?? 1))
        }
        if row.detectable > options.maxRegression {
            return (.inconclusive, String(format: "too noisy: the smallest change these samples could detect is %.1f%%", 100 * row.detectable))
        }
        return (.unchanged, "")
    }

    /// Every way a gate can end maps to an outcome (and so to a documented exit code); nothing
    /// throws. Fails closed: a cell the baseline has that the candidate did not produce, produced
    /// as failed or non-finite, fails the gate (`candidateFailed`) with the list of cells.
    public static func run(baselinePath: String, candidatePath: String, options: Options) -> Gate {
        guard RunDirectory.holdsRun(baselinePath) else {
            return Gate(outcome: .noBaseline, text: "gate: baseline missing: \(baselinePath) is not a run directory (no run.json)\n")
        }
        let base: LoadedRun
        do { base = try LoadedRun.load(baselinePath) } catch {
            return Gate(outcome: .noBaseline, text: "gate: baseline unreadable: \(error)\n")
        }
        guard RunDirectory.holdsRun(candidatePath) else {
            return Gate(outcome: .candidateFailed, text: "gate: candidate missing: \(candidatePath) is not a run directory (no run.json)\n")
        }
        let candidate: LoadedRun
        do { candidate = try LoadedRun.load(candidatePath) } catch {
            return Gate(outcome: .candidateFailed, text: "gate: candidate unreadable: \(error)\n")
        }
        guard !base.cells.isEmpty else {
            return Gate(outcome: .noBaseline, text: "gate: the baseline \(baselinePath) has no finished cells\n")
        }
        guard !candidate.cells.isEmpty else {
            return Gate(outcome: .candidateFailed, text: "gate: the candidate \(candidatePath) has no finished cells (status \(candidate.metadata.status))\n")
        }
        var lines: [String] = []
        let keyA = base.metadata.platform.hardwareKey, keyB = candidate.metadata.platform.hardwareKey
        if keyA != keyB {
            if !options.allowHardwareMismatch {
                return Gate(outcome: .hardwareMismatch, text: """
                    gate: hardware differs, results are not comparable (--allow-hardware-mismatch to gate anyway)
                      baseline:  \(keyA)
                      candidate: \(keyB)

                    """)
            }
            lines.append("warning: hardware differs (allowed): baseline \(keyA); candidate \(keyB)")
        }
        let comparison: Comparison
        do {
            comparison = try Comparison(base: base, candidate: candidate, metric: options.metric,
                                        normalize: options.normalize, alpha: options.alpha)
        } catch let e as Comparison.Failure {
            return Gate(outcome: e.inBaseline ? .noBaseline : .candidateFailed, text: "gate: \(e.message)\n")
        } catch {
            return Gate(outcome: .candidateFailed, text: "gate: \(error)\n")
        }
        if !comparison.candidateProblems.isEmpty {
            var text = lines.map { $0 + "\n" }.joined()
            text += "gate: the candidate did not produce \(comparison.candidateProblems.count) cell(s) the baseline has:\n"
            for p in comparison.candidateProblems { text += "  \(p.cellID): \(p.reason)\n" }
            if candidate.metadata.status != "complete" { text += "  (the candidate run's status is \(candidate.metadata.status))\n" }
            text += Outcome.candidateFailed.line() + "\n"
            return Gate(outcome: .candidateFailed, text: text)
        }
        guard !comparison.rows.isEmpty || !comparison.baseProblems.isEmpty else {
            return Gate(outcome: .noBaseline, text: "gate: no cell of the candidate matches a cell of the baseline\n")
        }
        var table = ReportTable(name: "gate", title: "Gate", header: ["cell", "baseline", "candidate", "change", "p", "detectable", "verdict"],
                                numeric: [1, 2, 3, 4, 5])
        var counts: [Verdict: Int] = [:]
        for row in comparison.rows {
            let (v, why) = verdict(row, options: options)
            counts[v, default: 0] += 1
            table.rows.append([row.cellID, Format.number(row.baseMedian, 4), Format.number(row.candidateMedian, 4),
                               Format.percent(row.ratio - 1), row.p.map { Format.number($0, 4) } ?? "-",
                               row.detectable.isFinite ? Format.percent(row.detectable, signed: false) : "-",
                               why.isEmpty ? v.rawValue : "\(v.rawValue): \(why)"])
        }
        // A cell the baseline cannot vouch for is not passed: inconclusive.
        for p in comparison.baseProblems {
            counts[.inconclusive, default: 0] += 1
            table.rows.append([p.cellID, "-", "-", "-", "-", "-", "inconclusive: \(p.reason)"])
        }
        let outcome = Outcome(verdicts: counts)
        let normalized = options.normalize == .efficiency ? ", normalized by each run's calibrated limits" : ""
        table.notes.append(String(format: "threshold %.1f%%, alpha %.3g, metric %@%@; %d cell(s) compared, %d only in the baseline, %d only in the candidate.",
                                  100 * options.maxRegression, options.alpha, options.metric.rawValue, normalized,
                                  comparison.rows.count, comparison.baseOnly, comparison.candidateOnly))
        if let g = comparison.geometricMeanRatio { table.notes.append("Geometric mean of the ratios: " + Format.percent(g - 1) + ".") }
        if base.metadata.testSlowdown != nil || candidate.metadata.testSlowdown != nil || base.metadata.testExtraWork != nil || candidate.metadata.testExtraWork != nil {
            table.notes.append("Note: a run here was made slower on purpose (CTXBENCH_TEST_SLOWDOWN or CTXBENCH_TEST_EXTRA_WORK).")
        }
        lines.append(table.markdown)
        lines.append(outcome.line(": " + summary(counts)))
        return Gate(outcome: outcome, text: lines.joined(separator: "\n") + "\n")
    }

    /// How many cells got each verdict, in one order for both gates:
    /// "1 improvement, 0 inconclusive, 0 regression, 3 unchanged".
    static func summary(_ counts: [Verdict: Int]) -> String {
        [Verdict.improvement, .inconclusive, .regression, .unchanged].map { "\(counts[$0, default: 0]) \($0.rawValue)" }.joined(separator: ", ")
    }
}

extension Gate.Outcome {
    /// The outcome of the cells' verdicts: any regression fails; else any cell that could not be
    /// judged makes the gate inconclusive (fail closed); else improvements, or a pass.
    init(verdicts counts: [Gate.Verdict: Int]) {
        self = counts[.regression, default: 0] > 0 ? .regression
            : counts[.inconclusive, default: 0] > 0 ? .inconclusive
            : counts[.improvement, default: 0] > 0 ? .improvementsOnly : .pass
    }

    /// The line every gate's text ends with, "gate: NAME (exit N)", and what follows it there.
    func line(_ detail: String = "") -> String {
        "gate: \(name) (exit \(rawValue))\(detail)"
    }

    public var name: String {
        switch self {
        case .pass: "PASS"
        case .regression: "REGRESSION"
        case .inconclusive: "INCONCLUSIVE"
        case .improvementsOnly: "IMPROVEMENTS ONLY"
        case .noBaseline: "NO BASELINE"
        case .hardwareMismatch: "HARDWARE MISMATCH"
        case .candidateFailed: "CANDIDATE FAILED"
        }
    }
}
