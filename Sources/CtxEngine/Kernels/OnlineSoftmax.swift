/// Streaming softmax for attention over long caches (the flash-attention recurrence).
///
/// Attention output o = Σ_j softmax(s)_j v_j is accumulated block by block of keys without ever
/// holding all scores: a partial keeps the running max m and the running Σ exp(s_j - m); when a
/// block raises the max, the earlier accumulator is rescaled by exp(m_old - m_new). Partials from
/// different threads (each over its own range of keys) merge the same way.
public struct SoftmaxPartial: Sendable, Equatable {
    public var max: Float = -.infinity
    public var sum: Float = 0
    public init() {}
    public init(max: Float, sum: Float) {
        self.max = max
        self.sum = sum
    }
}

public enum OnlineSoftmax {
    /// Absorbs a block of `n` scores: rewrites them in place as exp(s - m_new) and updates `state`.
    /// Returns the factor the caller must multiply its existing output accumulator by before adding
    /// Σ scores[j] * v_j for this block.
    @discardableResult
    public static func absorb(_ scores: UnsafeMutablePointer<Float>, _ n: Int, into state: inout SoftmaxPartial) -> Float {
        guard n > 0 else { return 1 }
        let blockMax = VectorOps.max(scores, n)
        let newMax = Swift.max(state.max, blockMax)
        // exp(0) = 1 exactly: no libm call when the block leaves the max where it was (most blocks
        // of a long context; at 192-wide keys one call per query and tile cost as much as 7% of it).
        let rescale = state.max == -.infinity ? 0 : state.max == newMax ? 1 : Float(_exp(Double(state.max - newMax)))
        var i = 0
        var acc = SIMD8<Float>()
        let m = SIMD8<Float>(repeating: newMax)
        while i &+ 8 <= n {
            let e = FastMath.exp(VectorOps.load(scores, i) - m)
            VectorOps.store(e, scores, i)
            acc += e
            i &+= 8
        }
        var blockSum = acc.sum()
        if i < n {
            var tail = SIMD8<Float>()
            for j in 0..<(n &- i) { tail[j] = scores[i &+ j] - newMax }
            let e = FastMath.exp(tail)
            for j in 0..<(n &- i) { scores[i &+ j] = e[j]; blockSum += e[j] }
        }
        state.sum = state.sum * rescale + blockSum
        state.max = newMax
        return rescale
    }

    /// Merges partial `b` (accumulator `ob`, unnormalized) into `a` (accumulator `oa`), `dim` wide.
    public static func merge(_ a: inout SoftmaxPartial, _ oa: UnsafeMutablePointer<Float>,
                             _ b: SoftmaxPartial, _ ob: UnsafePointer<Float>, dim: Int) {
        if b.max == -.infinity { return }
        if a.max == -.infinity {
            a = b
            oa.update(from: ob, count: dim)
            return
        }
        let m = Swift.max(a.max, b.max)
        let fa = Float(_exp(Double(a.max - m))), fb = Float(_exp(Double(b.max - m)))
        for i in 0..<dim { oa[i] = oa[i] * fa + ob[i] * fb }
        a = SoftmaxPartial(max: m, sum: a.sum * fa + b.sum * fb)
    }

    /// Divides the accumulator by the partial's sum: the final attention output.
    public static func finish(_ state: SoftmaxPartial, _ o: UnsafeMutablePointer<Float>, dim: Int) {
        let inv: Float = state.sum > 0 ? 1 / state.sum : 0
        VectorOps.scale(o, inv, o, dim)
    }
}

@inline(__always)
func _exp(_ x: Double) -> Double {
    #if canImport(Glibc)
    return Glibc.exp(x)
    #else
    return Darwin.exp(x)
    #endif
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
