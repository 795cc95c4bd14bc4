import Foundation

/// The Mann-Whitney U test (Wilcoxon rank-sum), two-sided: do two sets of samples come from the
/// same distribution? Makes no normality assumption, which suits benchmark timings (skewed, with
/// outliers). Exact p-values for small samples without ties; otherwise the normal approximation
/// with tie correction and continuity correction (as SciPy's `mannwhitneyu` does).
public enum MannWhitney {
    public struct Result: Sendable, Equatable {
        public var u: Double
        public var p: Double
        public var exact: Bool
    }

    public static func test(_ a: [Double], _ b: [Double]) -> Result? {
        let n1 = a.count, n2 = b.count
        guard n1 > 0, n2 > 0 else { return nil }
        // Ranks over the pooled samples, ties get their average rank.
        let pooled = (a.map { ($0, 0) } + b.map { ($0, 1) }).sorted { $0.0 < $1.0 }
        var ranks = [Double](repeating: 0, count: pooled.count)
        var tieTerm = 0.0
        var i = 0
        while i < pooled.count {
            var j = i
            while j + 1 < pooled.count && pooled[j + 1].0 == pooled[i].0 { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[k] = rank }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        let r1 = zip(pooled, ranks).filter { $0.0.1 == 0 }.reduce(0) { $0 + $1.1 }
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        let u2 = Double(n1 * n2) - u1
        let u = min(u1, u2)
        if tieTerm == 0 && n1 * n2 <= 400 {
            // Exact: P(U <= u) from the count of rank arrangements, doubled for two sides.
            let counts = distribution(n1, n2)
            let total = counts.reduce(0, +)
            let tail = counts.prefix(Int(u) + 1).reduce(0, +)
            return Result(u: u, p: min(1, 2 * tail / total), exact: true)
        }
        let n = Double(n1 + n2)
        let mean = Double(n1 * n2) / 2
        let variance = Double(n1 * n2) / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else { return Result(u: u, p: 1, exact: false) }
        let z = (abs(u1 - mean) - 0.5) / variance.squareRoot()
        return Result(u: u, p: min(1, erfc(max(0, z) / 2.squareRoot())), exact: false)
    }

    /// The smallest two-sided p-value samples of these sizes can give (all of one above the other):
    /// below alpha or no difference can ever be significant.
    public static func smallestP(_ n1: Int, _ n2: Int) -> Double {
        var c = 1.0  // C(n1 + n2, n1)
        for k in 0..<min(n1, n2) { c = c * Double(n1 + n2 - k) / Double(k + 1) }
        return min(1, 2 / c)
    }

    /// counts[u] = number of arrangements of n1 + n2 distinct values giving U = u.
    static func distribution(_ n1: Int, _ n2: Int) -> [Double] {
        // f(m, n, u) = f(m - 1, n, u - n) + f(m, n - 1, u), built up over n for each m.
        let maxU = n1 * n2
        var table = [[Double]](repeating: [Double](repeating: 0, count: maxU + 1), count: (n1 + 1) * (n2 + 1))
        func index(_ m: Int, _ n: Int) -> Int { m * (n2 + 1) + n }
        for m in 0...n1 {
            for n in 0...n2 {
                if m == 0 || n == 0 { table[index(m, n)][0] = 1; continue }
                for u in 0...(m * n) {
                    var v = table[index(m, n - 1)][u]
                    if u >= n { v += table[index(m - 1, n)][u - n] }
                    table[index(m, n)][u] = v
                }
            }
        }
        return table[index(n1, n2)]
    }
}
