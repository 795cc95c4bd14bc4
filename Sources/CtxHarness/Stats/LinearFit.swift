import Foundation

/// Ordinary least squares y = a + b x, with R². Used for the per-token cost against depth:
/// seconds per token = a + b * depth (attention reads the whole cache, so cost grows linearly).
public struct LinearFit: Sendable, Equatable {
    public var intercept: Double
    public var slope: Double
    public var rSquared: Double
    public var count: Int

    public init?(x: [Double], y: [Double]) {
        let n = Double(x.count)
        guard x.count == y.count, x.count >= 2 else { return nil }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        let sxx = x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        guard sxx > 0 else { return nil }
        let sxy = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let b = sxy / sxx, a = my - b * mx
        slope = b
        intercept = a
        let ssTotal = y.reduce(0) { $0 + ($1 - my) * ($1 - my) }
        let ssResidual = zip(x, y).reduce(0) { acc, p in
            let e = p.1 - (a + b * p.0)
            return acc + e * e
        }
        rSquared = ssTotal > 0 ? 1 - ssResidual / ssTotal : 1
        count = x.count
    }

    public func predict(_ x: Double) -> Double { intercept + slope * x }
}
