/// Elementwise transcendental functions on 8 floats at a time, as polynomials: one libm call per
/// element would dominate SiLU, softmax and the KDA gates. All inline to vector code under
/// x86-64-v3 (checked in the assembly: no calls; clamps are vminps/vmaxps via `replacing`).
public enum FastMath {
    /// e^x for 8 lanes, relative error < 2e-7 over [-87, 88]; inputs are clamped to that range
    /// (e^-87 ≈ 1.6e-38, so very negative inputs give a tiny normal number rather than 0).
    @inline(__always)
    public static func exp(_ input: SIMD8<Float>) -> SIMD8<Float> {
        var x = input.replacing(with: 88.376, where: input .> 88.376)
        x = x.replacing(with: -87.33, where: x .< -87.33)
        x = x.replacing(with: -87.33, where: input .!= input)  // NaN -> tiny, never propagates
        // n = round(x / ln 2) via the 1.5 * 2^23 trick; its integer is in the low mantissa bits.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let t = magic.addingProduct(x, SIMD8<Float>(repeating: 1.442_695_04))
        let n = t - magic
        // r = x - n ln2, with ln2 split in two for precision (Cephes).
        var r = x.addingProduct(n, SIMD8<Float>(repeating: -0.693_359_375))
        r = r.addingProduct(n, SIMD8<Float>(repeating: 2.121_944_4e-4))
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = SIMD8<Float>(repeating: 1.398_199_95e-3).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 8.333_451_9e-3).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 4.166_579_6e-2).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1.666_666_55e-1).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 5.000_000_1e-1).addingProduct(p, r)
        p = (r + 1).addingProduct(p, r * r)
        let exponent = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        // 2^n for n in [-126, 127]: n + 127 in the exponent field. For n = 128 (x near 88.37) split
        // the scale in two so it does not overflow the field.
        let half = exponent &>> 1
        let scaleA = unsafeBitCast((half &+ 127) &<< 23, to: SIMD8<Float>.self)
        let scaleB = unsafeBitCast((exponent &- half &+ 127) &<< 23, to: SIMD8<Float>.self)
        return p * scaleA * scaleB
    }

    @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 / (1 + exp(-x))
    }

    @inline(__always)
    public static func silu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x / (1 + exp(-x))
    }

    /// log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|) so it neither overflows nor loses
    /// precision; for x > 20 it is x to float precision.
    @inline(__always)
    public static func softplus(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let negativeAbs = x.replacing(with: -x, where: x .> 0)
        let positive = x.replacing(with: 0, where: x .< 0)
        return positive + log1p(exp(negativeAbs))
    }

    /// log(1 + u) for u in [0, 1], via log(m * 2^e) with a polynomial for log on [sqrt(1/2), sqrt(2)).
    @inline(__always)
    static func log1p(_ u: SIMD8<Float>) -> SIMD8<Float> {
        let y = 1 + u  // in [1, 2]
        // Reduce: y = m * 2^k with m in [sqrt(1/2), sqrt(2)); here k is 0 or 1.
        let big = y .> 1.414_213_6
        let m = y.replacing(with: y * 0.5, where: big)
        let k = SIMD8<Float>(repeating: 0).replacing(with: 1, where: big)
        let f = m - 1
        // log(1 + f) = f - f^2/2 + f^3 * P(f)  (Cephes logf coefficients)
        var p = SIMD8<Float>(repeating: 7.037_683_6e-2)
        p = SIMD8<Float>(repeating: -1.151_461e-1).addingProduct(p, f)
        p = SIMD8<Float>(repeating: 1.167_699_9e-1).addingProduct(p, f)
        p = SIMD8<Float>(repeating: -1.242_014_1e-1).addingProduct(p, f)
        p = SIMD8<Float>(repeating: 1.424_932_3e-1).addingProduct(p, f)
        p = SIMD8<Float>(repeating: -1.666_805_8e-1).addingProduct(p, f)
        p = SIMD8<Float>(repeating: 2.000_071_5e-1).addingProduct(p, f)
        p = SIMD8<Float>(repeating: -2.499_999_4e-1).addingProduct(p, f)
        p = SIMD8<Float>(repeating: 3.333_333_1e-1).addingProduct(p, f)
        let f2 = f * f
        let log1pf = f - 0.5 * f2 + f2 * f * p
        return log1pf.addingProduct(k, SIMD8<Float>(repeating: 0.693_147_18))
    }
}
