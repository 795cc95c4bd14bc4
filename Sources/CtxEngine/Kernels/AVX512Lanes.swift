#if CTXBENCH_AVX512
import CX86Intrinsics

/// 512-bit building blocks for the K-quants' integer dot products (`KQuantDot.dotTile`), from
/// one-intrinsic C wrappers (CX86Intrinsics). `V` is __m512i as Swift imports it. A vector holds two
/// 32-value parts of a K-quant super-block side by side, so one vpmaddubsw and one vpmaddwd do the
/// work of two on ymm: on the development VM's Xeon a C loop of vpmaddubsw + vpmaddwd + vpaddd over
/// eight accumulators ran 68-81 G values/s on one thread with zmm, 50-56 with ymm (three rounds).
enum AVX512Lanes {
    typealias V = SIMD8<Int64>

    @inline(__always) static func load(_ p: UnsafeRawPointer) -> V { p.loadUnaligned(as: V.self) }

    /// [low | high] (vinserti64x4).
    @inline(__always) static func combine(_ low: AVX2Lanes.V, _ high: AVX2Lanes.V) -> V { ctx512_combine(low, high) }

    /// Σ of unsigned-byte x signed-byte products, each int16 pair sum multiplied by `scale16`, as 16
    /// int32 lanes (vpmaddubsw, vpmaddwd): `AVX2Lanes.dotUnsigned` on both halves at once.
    @inline(__always) static func dotUnsigned(_ u: V, _ s: V, scale16: V) -> SIMD16<Int32> {
        unsafeBitCast(ctx512_madd_epi16(ctx512_maddubs_epi16(u, s), scale16), to: SIMD16<Int32>.self)
    }

    /// 16 int32 lanes as floats (vcvtdq2ps), inlined (see `AVX2Lanes.float`).
    @inline(__always) static func float(_ v: SIMD16<Int32>) -> SIMD16<Float> {
        ctx512_cvtepi32_ps(unsafeBitCast(v, to: V.self))
    }

    /// `AVX2Lanes.inRegisters` for the first `count` (1, 4 or 8) of eight 512-bit sums.
    @inline(__always) static func inRegisters(_ s: inout (SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>,
                                                          SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>),
                                              count: Int) {
        @inline(__always) func pin(_ v: inout SIMD16<Int32>) {
            v = unsafeBitCast(ctx512_in_register(unsafeBitCast(v, to: V.self)), to: SIMD16<Int32>.self)
        }
        pin(&s.0)
        if count >= 4 { pin(&s.1); pin(&s.2); pin(&s.3) }
        if count == 8 { pin(&s.4); pin(&s.5); pin(&s.6); pin(&s.7) }
    }
}
#endif
