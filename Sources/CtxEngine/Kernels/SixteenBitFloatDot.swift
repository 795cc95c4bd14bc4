/// The 16-bit float weight formats (f16, bf16) as their shared dot kernel sees them: they differ
/// only in how 8 stored values widen to f32.
protocol SixteenBitFloatFormat {
    /// The 8 values at value index `i..<i + 8` of `w`, as floats.
    static func widen(_ w: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
    /// The value at value index `i` of `w`, as a float.
    static func value(_ w: UnsafeRawPointer, at i: Int) -> Float
}

/// Σ w[i] * a[i] for a 16-bit float row `w` and an activation `a` (GEMV's f16/bf16 kernel): f32
/// values, or (`dotSameFormat`) values stored in the weights' own format, as GEMV passes them.
enum SixteenBitFloatDot {
    @inline(__always)
    static func dot<F: SixteenBitFloatFormat>(_: F.Type, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        dot(F.self, w, a, count: count, activationInFormat: false)
    }

    /// `dot` with the activation in format F (2 bytes a value): GEMV's prepared activation. The
    /// products are the same (the activation is rounded to F either way), but the activation is
    /// half the bytes: an f32 one of Step-3.5-Flash's 12288-wide attention output no longer fits in
    /// L1 beside the weight stream, and reading it from L2 for every row held the f16 GEMV to 60-70%
    /// of the read bandwidth on Zen 4.
    @inline(__always)
    static func dotSameFormat<F: SixteenBitFloatFormat>(_: F.Type, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        dot(F.self, w, a, count: count, activationInFormat: true)
    }

    /// Four 8-wide FMA chains, 32 values (one 64-byte line of weights, one prefetch) per iteration:
    /// with two chains the FMA latency (4 cycles on Zen 3) bounded the loop at 2 FMAs per 4
    /// cycles, so from cache the kernel ran at half the convert + FMA throughput.
    @inline(__always)
    static func dot<F: SixteenBitFloatFormat>(_: F.Type, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int,
                                              activationInFormat: Bool) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        @inline(__always) func x(_ i: Int) -> SIMD8<Float> {
            activationInFormat ? F.widen(a, i) : a.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        }
        @inline(__always) func xValue(_ i: Int) -> Float {
            activationInFormat ? F.value(a, at: i) : a.load(fromByteOffset: i &* 4, as: Float.self)
        }
        var i = 0
        while i + 32 <= count {
            Prefetch.ahead(w + i &* 2, bytes: 64, distance: Prefetch.floatDistance)
            acc0.addProduct(F.widen(w, i), x(i))
            acc1.addProduct(F.widen(w, i &+ 8), x(i &+ 8))
            acc2.addProduct(F.widen(w, i &+ 16), x(i &+ 16))
            acc3.addProduct(F.widen(w, i &+ 24), x(i &+ 24))
            i &+= 32
        }
        while i + 8 <= count {
            acc0.addProduct(F.widen(w, i), x(i))
            i &+= 8
        }
        var total = ((acc0 + acc1) + (acc2 + acc3)).sum()
        while i < count {
            total += F.value(w, at: i) * xValue(i)
            i &+= 1
        }
        return total
    }
}

extension SixteenBitFloatDot {
    /// GEMV's prepared activation for f16 and bf16 weights (`SixteenBitFloatDot.dotSameFormat`):
    /// the activation in the weights' format, 2 bytes a value.
    static func preparedBytes(count: Int) -> Int { count &* 2 }

    /// `activation` is GEMV's f32 activation already rounded to format F, so storing it in F is
    /// exact. Blocks are values (`blockValues` is 1).
    @inline(__always)
    static func prepare<F: WeightFormat>(_: F.Type, _ activation: UnsafeRawPointer, _ out: UnsafeMutableRawPointer, blocks: Range<Int>) {
        F.quantize(activation.assumingMemoryBound(to: Float.self) + blocks.lowerBound, out + blocks.lowerBound &* 2, count: blocks.count)
    }
}
