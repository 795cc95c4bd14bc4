import Foundation
import Testing
@testable import CtxHarness

/// The interleaved gate's statistics: Student t against its table, and the round-by-round verdict.
struct PairedRoundsTests {
    @Test(arguments: [(0.975, 1.0, 12.706), (0.975, 4.0, 2.776), (0.975, 30.0, 2.042), (0.95, 7.0, 1.895),
                      (0.95, 1.0, 6.314), (0.99, 10.0, 2.764), (0.9, 3.0, 1.638)])
    func studentTQuantilesMatchTheTable(p: Double, df: Double, expected: Double) {
        let q = StudentT.quantile(p, degreesOfFreedom: df)
        #expect(abs(q - expected) < 0.0015, "t(\(p), \(df)) = \(q), table \(expected)")
        #expect(abs(StudentT.cdf(q, degreesOfFreedom: df) - p) < 1e-9)
        #expect(abs(StudentT.quantile(1 - p, degreesOfFreedom: df) + q) < 1e-9)
    }

    /// Rates with a host that drifts by ±30% between rounds: the pairing divides the drift out.
    static let drift = [1.0, 0.7, 1.3, 0.85, 1.1, 0.75, 1.2, 0.9]
    static let jitter = [0.01, -0.02, 0.015, -0.01, 0.02, -0.015, 0.005, -0.005]

    @Test func aConsistentSlowdownUnderDriftIsARegression() {
        let base = Self.drift.map { 500 * $0 }
        let slower = zip(base, Self.jitter).map { $0 * (1 / 1.15) * (1 + $1) }
        let pairs = PairedRounds(baseline: base, candidate: slower, higherIsBetter: true)
        #expect(abs(pairs.change - (1 / 1.15 - 1)) < 0.01)
        #expect(pairs.verdict(maxRegression: 0.05, alpha: 0.05, minimumRounds: 3).0 == .regression)
        // The same builds compared without pairing would see the drift (the baseline alone moved
        // by a median of 30% between rounds), which the verdict reports when it cannot decide.
        #expect(pairs.baselineSpread! > 0.2)
    }

    @Test func theSameBuildUnderDriftIsUnchanged() {
        let base = Self.drift.map { 500 * $0 }
        let same = zip(base, Self.jitter).map { $0 * (1 + $1) }
        let pairs = PairedRounds(baseline: base, candidate: same, higherIsBetter: true)
        #expect(pairs.verdict(maxRegression: 0.05, alpha: 0.05, minimumRounds: 3).0 == .unchanged)
    }

    @Test func roundsThatDisagreeAreInconclusiveAndSayHowNoisy() {
        let base = Array(repeating: 100.0, count: 5)
        let candidate = [80.0, 105, 90, 102, 85]
        let (verdict, why) = PairedRounds(baseline: base, candidate: candidate, higherIsBetter: true)
            .verdict(maxRegression: 0.05, alpha: 0.05, minimumRounds: 3)
        #expect(verdict == .inconclusive)
        #expect(why.contains("host too noisy"))
        #expect(why.contains("over 5 rounds"))
        // Too few rounds to see the noise at all.
        #expect(PairedRounds(baseline: [100, 100], candidate: [50, 50], higherIsBetter: true)
            .verdict(maxRegression: 0.05, alpha: 0.05, minimumRounds: 3).0 == .inconclusive)
    }

    /// Costs (instruction counts): more is worse, and one round decides.
    @Test func moreInstructionsAreARegressionAndEqualCountsPass() {
        let more = PairedRounds(baseline: [1_000_000], candidate: [1_050_000], higherIsBetter: false)
        #expect(more.change < -0.04)
        #expect(more.verdict(maxRegression: 0.01, alpha: 0.05, minimumRounds: 1).0 == .regression)
        #expect(PairedRounds(baseline: [1_000_000], candidate: [950_000], higherIsBetter: false)
            .verdict(maxRegression: 0.01, alpha: 0.05, minimumRounds: 1).0 == .improvement)
        #expect(PairedRounds(baseline: [1_000_000, 1_000_000], candidate: [1_000_300, 999_800], higherIsBetter: false)
            .verdict(maxRegression: 0.01, alpha: 0.05, minimumRounds: 1).0 == .unchanged)
    }
}
