#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rotary position embedding, full or partial, in the NeoX ("rotate half") pairing the Hugging Face
/// models use: within the first `rotaryDims` of a head, dimension i pairs with i + rotaryDims/2.
/// Dimensions past `rotaryDims` pass through (Step-3.5-Flash full-attention layers rotate 64 of 128).
public struct RoPE: Sendable {
    public let rotaryDims: Int
    public let theta: Float
    /// inverse frequencies theta^(-2i/rotaryDims), i < rotaryDims/2, in Double: position x frequency
    /// is an angle of up to 2.6e5 radians at 262K, where a Float frequency's relative error (6e-8)
    /// would turn the angle by 0.016 rad.
    let inverseFrequencies: [Double]

    public init(rotaryDims: Int, theta: Float) {
        precondition(rotaryDims % 2 == 0 && rotaryDims > 0, "rotary dims must be even and positive")
        self.rotaryDims = rotaryDims
        self.theta = theta
        inverseFrequencies = (0..<(rotaryDims / 2)).map {
            pow(Double(theta), -2 * Double($0) / Double(rotaryDims))
        }
    }

    /// Rotates `heads` consecutive head vectors of `headDim` at `x` for token `position`.
    /// cos/sin are computed once per call (rotaryDims/2 pairs) and shared by all heads.
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, position: Int) {
        let half = rotaryDims / 2
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rotaryDims) { table in
            for i in 0..<half {
                let angle = Double(position) * inverseFrequencies[i]
                table[i] = Float(cos(angle))
                table[half + i] = Float(sin(angle))
            }
            for h in 0..<heads {
                let v = x + h * headDim
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    let c = table[i], s = table[half + i]
                    v[i] = a * c - b * s
                    v[i + half] = b * c + a * s
                }
            }
        }
    }
}
