import Foundation

/// Summary statistics of a cell's samples (rates per repetition, or per-token latencies).
/// Standard deviation is two-pass (llama-bench's one-pass formula has printed NaN and 25x errors);
/// the confidence interval uses Student's t; outliers are flagged by the modified z-score
/// |0.6745 (x - median) / MAD| > 3.5 (Iglewicz and Hoaglin; hyperfine's rule), never removed.
public struct SampleStatistics: Codable, Sendable, Equatable {
    public var n: Int
    public var mean: Double
    public var median: Double
    public var standardDeviation: Double
    public var min: Double
    public var max: Double
    /// Median absolute deviation from the median (unscaled).
    public var mad: Double
    /// standardDeviation / mean.
    public var coefficientOfVariation: Double
    /// Half-width of the 95% confidence interval of the mean (0 when n < 2).
    public var confidenceHalfWidth95: Double
    public var outliers: Int

    public init(_ samples: [Double]) {
        n = samples.count
        guard n > 0 else {
            self.mean = .nan; median = .nan; standardDeviation = .nan; min = .nan; max = .nan; mad = .nan
            coefficientOfVariation = .nan; confidenceHalfWidth95 = .nan; outliers = 0
            return
        }
        let mean = samples.reduce(0, +) / Double(n)
        self.mean = mean
        let variance = n > 1 ? samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1) : 0
        standardDeviation = variance.squareRoot()
        let center = Self.median(samples)
        let deviation = Self.median(samples.map { abs($0 - center) })
        median = center
        mad = deviation
        min = samples.min()!
        max = samples.max()!
        coefficientOfVariation = mean != 0 ? standardDeviation / mean : .nan
        confidenceHalfWidth95 = n > 1 ? Self.tCritical95(degreesOfFreedom: n - 1) * standardDeviation / Double(n).squareRoot() : 0
        outliers = deviation > 0 ? samples.filter { abs(0.6745 * ($0 - center) / deviation) > 3.5 }.count : 0
    }

    /// The figures a source printed without its samples (llama-bench's CSV and Markdown: mean and
    /// standard deviation): n is 0 (the samples are unknown) and what needs them is NaN (blank in
    /// tables), never computed from the one rounded mean.
    public init(reportedMean: Double, standardDeviation: Double) {
        n = 0
        mean = reportedMean
        self.standardDeviation = standardDeviation
        median = .nan; min = .nan; max = .nan; mad = .nan; confidenceHalfWidth95 = .nan; outliers = 0
        coefficientOfVariation = reportedMean != 0 ? standardDeviation / reportedMean : .nan
    }

    public static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The p-th percentile (0...100), linear interpolation between closest ranks.
    public static func percentile(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        let rank = p / 100 * Double(s.count - 1)
        let lo = Int(rank.rounded(.down)), hi = Swift.min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (rank - Double(lo))
    }

    /// Two-sided 95% critical value of Student's t.
    public static func tCritical95(degreesOfFreedom df: Int) -> Double {
        df < 1 ? .nan : StudentT.quantile(0.975, degreesOfFreedom: Double(df))
    }
}
