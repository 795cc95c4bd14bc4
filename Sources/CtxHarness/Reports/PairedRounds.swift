import Foundation

/// The verdict on one cell of an interleaved A/B gate, with rounds as the units of replication.
///
/// Repetitions inside one process are not independent draws: they share the host's state of that
/// minute, so a test over them is over-confident (two runs of one build minutes apart differed by
/// 20-50% here while each run's spread was a few percent). In an interleaved gate both builds ran
/// in every round, next to each other, so a round's ratio candidate/baseline has the drift divided
/// out; the rounds' log ratios are the sample, and a one-sided Student t bound on their mean says
/// how far the candidate can be from the baseline. A regression is a change significantly past the
/// threshold (the whole bound beyond it); a change the rounds cannot place on either side of the
/// threshold is "inconclusive: host too noisy", with the spread the rounds showed.
public struct PairedRounds: Sendable {
    /// One round: the baseline's and the candidate's value (the median of the round's repetitions
    /// for rates, instructions per repetition for counts).
    public var baseline: [Double]
    public var candidate: [Double]
    /// True for rates, false for costs such as instruction counts.
    public var higherIsBetter: Bool

    public init(baseline: [Double], candidate: [Double], higherIsBetter: Bool) {
        precondition(baseline.count == candidate.count)
        self.baseline = baseline
        self.candidate = candidate
        self.higherIsBetter = higherIsBetter
    }

    /// Log of candidate over baseline per round, oriented so that > 0 is better.
    public var logRatios: [Double] {
        zip(baseline, candidate).map { higherIsBetter ? log($1 / $0) : log($0 / $1) }
    }

    public var rounds: Int { baseline.count }

    /// exp(mean log ratio) - 1: the change, > 0 better.
    public var change: Double { exp(mean(logRatios)) - 1 }

    /// The one-sided (1 - alpha) bounds of the change: (worst, best).
    public func bounds(alpha: Double) -> (lower: Double, upper: Double) {
        let d = logRatios, m = mean(d)
        guard d.count > 1 else { return (exp(m) - 1, exp(m) - 1) }
        let sd = (d.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(d.count - 1)).squareRoot()
        let half = StudentT.quantile(1 - alpha, degreesOfFreedom: Double(d.count - 1)) * sd / Double(d.count).squareRoot()
        return (exp(m - half) - 1, exp(m + half) - 1)
    }

    /// How much the baseline alone moved between successive rounds: the median of
    /// |baseline[r] / baseline[r-1] - 1| (an A/A spread, measured in the same job); nil under two rounds.
    public var baselineSpread: Double? {
        guard baseline.count > 1 else { return nil }
        return SampleStatistics.median((1..<baseline.count).map { abs(baseline[$0] / baseline[$0 - 1] - 1) })
    }

    /// The verdict and, for inconclusive ones, why. `minimumRounds` below which a noisy metric
    /// cannot be judged (1 for a repeatable one such as instruction counts).
    public func verdict(maxRegression t: Double, alpha: Double, minimumRounds: Int) -> (Gate.Verdict, String) {
        guard rounds >= minimumRounds, rounds > 0 else {
            return (.inconclusive, "\(rounds) round(s); at least \(minimumRounds) are needed to see the host's noise")
        }
        let (lower, upper) = bounds(alpha: alpha)
        if upper < -t { return (.regression, "") }
        if lower > t { return (.improvement, "") }
        if lower >= -t { return (.unchanged, "") }
        let spread = baselineSpread.map { String(format: "; A/A: the baseline moved by a median %.1f%% between rounds", 100 * $0) } ?? ""
        return (.inconclusive, String(format: "host too noisy: the change lies between %+.1f%% and %+.1f%% (one-sided %.0f%% bounds over %d rounds), either side of -%.0f%%%@",
                                      100 * lower, 100 * upper, 100 * (1 - alpha), rounds, 100 * t, spread))
    }

    private func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }
}
