/// The 16-bit float weight formats (f16, bf16) as their shared dot kernel sees them: they differ
/// only in how 8 stored values widen to f32.
protocol SixteenBitFloatFormat {
    /// The 8 values at value index `i..<i + 8` of `w`, as floats.
    static func widen(_ w: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
    /// The value at value index `i` of `w`, as a float.
    static func value(_ w: UnsafeRawPointer, at i: Int) -> Float
}

/// Σ w[i] * a[i] for a 16-bit float row `w` and an activation `a` in the same format (f16 or
/// bf16, as llama.cpp rounds an activation for these weights): both sides widened to f32.
///
/// The activation is held in 2 bytes a value, not as f32: an f32 copy of Step-3.5-Flash's
/// 12288-wide attention output no longer fits in L1 beside the weight stream, and reading it from
/// L2 for every row held the f16 GEMV to 60-70% of the read bandwidth on Zen 4.
enum SixteenBitFloatDot {
    /// Four 8-wide FMA chains, 32 values (one 64-byte line of weights, one prefetch) per iteration:
    /// with two chains the FMA latency (4 cycles on Zen 3) bounded the loop at 2 FMAs per 4
    /// cycles, so from cache the kernel ran at half the convert + FMA throughput.
    @inline(__always)
    static func dot<F: SixteenBitFloatFormat>(_: F.Type, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= count {
            Prefetch.ahead(w + i &* 2, bytes: 64, distance: Prefetch.floatDistance)
            acc0.addProduct(F.widen(w, i), F.widen(a, i))
            acc1.addProduct(F.widen(w, i &+ 8), F.widen(a, i &+ 8))
            acc2.addProduct(F.widen(w, i &+ 16), F.widen(a, i &+ 16))
            acc3.addProduct(F.widen(w, i &+ 24), F.widen(a, i &+ 24))
            i &+= 32
        }
        while i + 8 <= count {
            acc0.addProduct(F.widen(w, i), F.widen(a, i))
            i &+= 8
        }
        var total = ((acc0 + acc1) + (acc2 + acc3)).sum()
        while i < count {
            total += F.value(w, at: i) * F.value(a, at: i)
            i &+= 1
        }
        return total
    }
}
