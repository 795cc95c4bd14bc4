/// Deterministic pseudo-random numbers (SplitMix64). Weights and test inputs derive one stream
/// per (seed, tensor, row), so any row can be generated independently and in parallel, and the
/// same seed gives the same bytes on every machine.
public struct SeededRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 ^ (stream &+ 0xD1B5_4A32_D192_ED03) &* 0xBF58_476D_1CE4_E5B9
        _ = next()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    @inline(__always)
    public mutating func nextSignedUnit() -> Float {
        Float(Int32(truncatingIfNeeded: next() >> 32)) * (1.0 / 2_147_483_648.0)
    }

    /// Approximately normal (sum of four uniforms, scaled to unit variance): cheap and bounded.
    @inline(__always)
    public mutating func nextGaussianish() -> Float {
        (nextSignedUnit() + nextSignedUnit() + nextSignedUnit() + nextSignedUnit()) * 0.866_025_4
    }

    /// Fills `count` floats with nextGaussianish() * scale.
    public mutating func fill(_ p: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
        for i in 0..<count { p[i] = nextGaussianish() * scale }
    }
}
