import Foundation

/// Student's t distribution: the CDF through the regularized incomplete beta function, and its
/// quantile by bisection. Used where the units of replication are few (the interleaved gate's
/// rounds, a cell's repetitions), so a normal approximation would be over-confident.
public enum StudentT {
    /// P(T <= t) for `degreesOfFreedom` > 0.
    public static func cdf(_ t: Double, degreesOfFreedom df: Double) -> Double {
        guard df > 0, !t.isNaN else { return .nan }
        if t.isInfinite { return t > 0 ? 1 : 0 }
        // P(|T| > |t|) = I_x(df/2, 1/2) with x = df / (df + t^2).
        let tail = regularizedIncompleteBeta(df / (df + t * t), a: df / 2, b: 0.5)
        return t >= 0 ? 1 - tail / 2 : tail / 2
    }

    /// The t with P(T <= t) = p (0 < p < 1).
    public static func quantile(_ p: Double, degreesOfFreedom df: Double) -> Double {
        guard df > 0, p > 0, p < 1 else { return .nan }
        if p < 0.5 { return -quantile(1 - p, degreesOfFreedom: df) }
        var lo = 0.0, hi = 1.0
        while cdf(hi, degreesOfFreedom: df) < p { hi *= 2; if hi > 1e12 { return .infinity } }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if cdf(mid, degreesOfFreedom: df) < p { lo = mid } else { hi = mid }
            if hi - lo <= 1e-12 * hi { break }
        }
        return (lo + hi) / 2
    }

    /// I_x(a, b), by the continued fraction of the incomplete beta (modified Lentz), using the
    /// symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logFront: Double = logGammas + a * log(x) + b * log(1 - x)
        if x > (a + 1) / (a + b + 2) {
            return 1 - regularizedIncompleteBeta(1 - x, a: b, b: a)
        }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var fraction = d
        for m in 1...500 {
            let m = Double(m)
            // Even step: m(b-m)x / ((a+2m-1)(a+2m)); odd step: -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
            let even: Double = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            let odd: Double = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            for numerator in [even, odd] {
                d = 1 + numerator * d
                if abs(d) < tiny { d = tiny }
                c = 1 + numerator / c
                if abs(c) < tiny { c = tiny }
                d = 1 / d
                fraction *= d * c
            }
            if abs(d * c - 1) < 1e-15 { break }
        }
        return exp(logFront) * fraction / a
    }
}
