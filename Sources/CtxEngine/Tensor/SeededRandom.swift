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

    /// Fills `count` floats with an approximately normal value * scale from one 64-bit draw each
    /// (the sum of its four 16-bit lanes, scaled to unit variance): 4x cheaper than nextGaussianish.
    public mutating func fillFast(_ p: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
        // Each lane is uniform on 0...65535 (variance 65536^2 / 12); four of them sum to mean 131070.
        let unit = scale / (65536 * (4.0 / 12.0).squareRoot())
        for i in 0..<count {
            let r = next()
            let sum = (r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48)
            p[i] = (Float(sum) - 131_070) * unit
        }
    }

    /// Fills `count` bytes with random bits.
    public mutating func fillBytes(_ p: UnsafeMutableRawPointer, count: Int) {
        var i = 0
        while i + 8 <= count { p.storeBytes(of: next(), toByteOffset: i, as: UInt64.self); i += 8 }
        if i < count {
            var r = next()
            while i < count { p.storeBytes(of: UInt8(truncatingIfNeeded: r), toByteOffset: i, as: UInt8.self); r >>= 8; i += 1 }
        }
    }
}
