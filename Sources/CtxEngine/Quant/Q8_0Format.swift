#if CTXBENCH_AVX2
import CX86Intrinsics
#endif

/// ggml GGML_TYPE_Q8_0: blocks of 32 values.
///
///     offset 0   f16   d        scale: max|x| / 127
///     offset 2   i8    qs[32]   x ≈ d * qs[i]
///     34 bytes (8.5 bits per value)
///
/// Also the activation format q8_0 and q4_0 weights are dotted with.
public enum Q8_0Format: TwoPathDotFormat, TwoPathQuantizer {
    public static let type = DType.q8_0
    public static let blockValues = 32
    public static let blockBytes = 34
    public static let activationType = DType.q8_0
    static let qsOffset = 2

    /// As llama.cpp's CPU backend quantizes activations (ggml-cpu quantize_row_q8_0 on AVX2 and NEON,
    /// not the scalar quantize_row_q8_0_ref, which rounds half away from zero): d = amax / 127,
    /// q = round-half-to-even(x * id), id = 127 / amax on x86-64 (1 / d elsewhere, as NEON does), so
    /// the engine's activations are llama.cpp's to the bit. NaN is ignored by the max and stored as 0.
    /// `quantize` (TwoPathQuantizer) uses `quantizeAVX2` on AVX2.
    public static func quantizeReference(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<(count / 32) {
            let src = x + b &* 32
            let block = out + b &* blockBytes
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(src[j])) }
            let d = amax / 127
            block.storeF16(d, at: 0)
            let id = inverseScale(amax: amax, d: d)
            let qs = (block + qsOffset).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { qs[j] = saturatingInt8((src[j] * id).rounded(.toNearestOrEven)) }
        }
    }

    /// 1 / d as llama.cpp's CPU backend computes it for this ISA.
    @inline(__always)
    static func inverseScale(amax: Float, d: Float) -> Float {
        #if arch(x86_64)
        amax != 0 ? 127 / amax : 0
        #else
        d != 0 ? 1 / d : 0
        #endif
    }

    /// Synthetic weights straight into blocks: uniform int8 levels, d = std * sqrt(3) / 128.
    public static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float,
                                  random: inout SeededRandom) {
        for b in 0..<(count / 32) {
            let block = out + b &* blockBytes
            block.storeF16(std * 1.732 / 128, at: 0)
            random.fillBytes(block + qsOffset, count: 32)
        }
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let block = q + b &* blockBytes
            let d = block.f16(at: 0)
            let qs = (block + qsOffset).assumingMemoryBound(to: Int8.self)
            let o = out + b &* 32
            for j in 0..<32 { o[j] = d * Float(qs[j]) }
        }
    }

    #if CTXBENCH_AVX2
    /// `quantizeReference`, 8 lanes at a time, byte for byte the same: NaN lanes are zeroed before
    /// the max (the reference's max skips them) and after scaling (the reference stores 0), scaled
    /// values are rounded half to even (vroundps), then clamped to [-128, 127] before conversion.
    /// 32 int32 are packed to bytes with vpackssdw/vpacksswb and put back in order with one vpermd.
    public static func quantizeAVX2(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        let order = unsafeBitCast(SIMD8<Int32>(0, 4, 1, 5, 2, 6, 3, 7), to: AVX2Lanes.V.self)
        // NaN-free inputs here, so vmaxps is the reference's max.
        @inline(__always) func larger(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { ctx_max_ps(a, b) }
        for b in 0..<(count / 32) {
            let src = UnsafeRawPointer(x + b &* 32)
            let v = (src.loadUnaligned(as: SIMD8<Float>.self), src.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
                     src.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), src.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            @inline(__always) func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> { zeroingNaN(AVX2Lanes.magnitude(v)) }
            let m = larger(larger(magnitude(v.0), magnitude(v.1)), larger(magnitude(v.2), magnitude(v.3)))
            var amax: Float = 0
            for i in 0..<8 where m[i] > amax { amax = m[i] }
            let d = amax / 127
            let id = inverseScale(amax: amax, d: d)
            let block = out + b &* blockBytes
            block.storeF16(d, at: 0)
            let t = (v.0 * id, v.1 * id, v.2 * id, v.3 * id)
            let q = (ctx_cvttps_epi32(int8Range(t.0.rounded(.toNearestOrEven))), ctx_cvttps_epi32(int8Range(t.1.rounded(.toNearestOrEven))),
                     ctx_cvttps_epi32(int8Range(t.2.rounded(.toNearestOrEven))), ctx_cvttps_epi32(int8Range(t.3.rounded(.toNearestOrEven))))
            let bytes = ctx_packs_epi16(ctx_packs_epi32(q.0, q.1), ctx_packs_epi32(q.2, q.3))
            (block + qsOffset).storeBytes(of: ctx_permutevar8x32_epi32(bytes, order), as: AVX2Lanes.V.self)
        }
    }

    /// NaN -> 0, then clamped to [-128, 127] (what `saturatingInt8` does lane by lane).
    @inline(__always)
    static func int8Range(_ t: SIMD8<Float>) -> SIMD8<Float> {
        ctx_min_ps(ctx_max_ps(zeroingNaN(t), SIMD8(repeating: -128)), SIMD8(repeating: 127))
    }

    /// NaN lanes -> 0 (vcmpps ordered + vandps).
    @inline(__always)
    static func zeroingNaN(_ v: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(ctx_ordered_ps(v), to: SIMD8<UInt32>.self) & unsafeBitCast(v, to: SIMD8<UInt32>.self), to: SIMD8<Float>.self)
    }

    public static func dotAVX2(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        dotAgainstQ8_0AVX2(Q8_0Format.self, w, a, count: count)
    }

    /// The dot product of any 32-value block format with an f16 scale at offset 0 (q8_0, q4_0)
    /// against q8_0 activations; `Levels.avx2Levels` turns one weight block into its 32 signed byte
    /// levels. Generic rather than a closure so that it is specialized and inlined per format
    /// (a closure stayed an outlined call: measured 2x slower for q4_0).
    /// Eight blocks at a time: their 16 scales converted in two vcvtph2ps, then per block
    /// vpabsb/vpsignb + vpmaddubsw + vpmaddwd, and one FMA with that block's combined scale.
    @inline(__always)
    static func dotAgainstQ8_0AVX2<Levels: Q8_0PairedAVX2>(_ format: Levels.Type, _ w: UnsafeRawPointer,
                                                          _ a: UnsafeRawPointer, count: Int) -> Float {
        let weightBlockBytes = Levels.blockBytes
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        @inline(__always) func blockDot(_ wb: UnsafeRawPointer, _ ab: UnsafeRawPointer) -> SIMD8<Int32> {
            AVX2Lanes.dotSigned(Levels.avx2Levels(wb), AVX2Lanes.load(ab + qsOffset))
        }
        let blocks = count / 32
        var b = 0
        while b &+ 8 <= blocks {
            let wg = w + b &* weightBlockBytes, ag = a + b &* blockBytes
            Prefetch.ahead(wg, bytes: 8 &* weightBlockBytes)
            let scales = AVX2Lanes.halves8(wg, stride: weightBlockBytes) * AVX2Lanes.halves8(ag, stride: blockBytes)
            for j in stride(from: 0, to: 8, by: 2) {
                let w0 = wg + j &* weightBlockBytes, a0 = ag + j &* blockBytes
                let p0 = blockDot(w0, a0), p1 = blockDot(w0 + weightBlockBytes, a0 + blockBytes)
                acc0.addProduct(AVX2Lanes.float(p0), SIMD8<Float>(repeating: scales[j]))
                acc1.addProduct(AVX2Lanes.float(p1), SIMD8<Float>(repeating: scales[j &+ 1]))
            }
            b &+= 8
        }
        while b < blocks {
            let w0 = w + b &* weightBlockBytes, a0 = a + b &* blockBytes
            let p0 = blockDot(w0, a0)
            acc0.addProduct(AVX2Lanes.float(p0), SIMD8<Float>(repeating: AVX2Lanes.half(w0, 0) * AVX2Lanes.half(a0, 0)))
            b &+= 1
        }
        return (acc0 + acc1).sum()
    }

    @inline(__always)
    static func avx2Levels(_ block: UnsafeRawPointer) -> AVX2Lanes.V { AVX2Lanes.load(block + qsOffset) }
    #endif

    /// Σ over blocks of d_w * d_a * Σ qw*qa, accumulated in 8 float lanes (no per-block horizontal sum).
    /// Portable SIMD (any ISA): even/odd byte lanes, 22 vector instructions per block.
    public static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<(count / 32) {
            let wb = w + b &* blockBytes
            let ab = a + b &* blockBytes
            Prefetch.ahead(wb, bytes: blockBytes)
            let sums = Int8Lanes.dot32(Int8Lanes.evenOdd(wb + qsOffset), Int8Lanes.evenOdd(ab + qsOffset))
            acc.addProduct(SIMD8<Float>(sums), SIMD8<Float>(repeating: wb.f16(at: 0) * ab.f16(at: 0)))
        }
        return acc.sum()
    }
}

#if CTXBENCH_AVX2
/// A 32-value block format whose AVX2 dot pairs with q8_0: an f16 scale at offset 0 and 32 levels.
protocol Q8_0PairedAVX2: WeightFormat {
    static func avx2Levels(_ block: UnsafeRawPointer) -> AVX2Lanes.V
}

extension Q8_0Format: Q8_0PairedAVX2 {}
extension Q4_0Format: Q8_0PairedAVX2 {}
extension Q5_0Format: Q8_0PairedAVX2 {}
#endif
