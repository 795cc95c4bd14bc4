#if CTXBENCH_AVX2
import CX86Intrinsics
#endif

/// ggml GGML_TYPE_Q8_K: the activation format K-quant weights are dotted with. Blocks of 256.
///
///     offset 0    f32   d           scale (1 / iscale)
///     offset 4    i8    qs[256]
///     offset 260  i16   bsums[16]   sums of each 16 consecutive qs (the K-quant min terms use them)
///     292 bytes
public enum Q8_KFormat: TwoPathQuantizer {
    public static let type = DType.q8_K
    public static let blockValues = 256
    public static let blockBytes = 292
    static let qsOffset = 4
    static let bsumsOffset = 260

    /// quantize_row_q8_K_ref: iscale = -127 / (signed extreme), q = min(127, round-half-even(x * iscale)),
    /// value by value. The extreme is the first value of largest magnitude (NaN skipped); a NaN value
    /// is stored as 127 (Swift's `min(127, NaN)` is 127). `quantize` (TwoPathQuantizer) uses
    /// `quantizeAVX2` on AVX2.
    public static func quantizeReference(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<(count / 256) {
            let src = x + b &* 256
            let block = out + b &* blockBytes
            let qs = (block + qsOffset).assumingMemoryBound(to: Int8.self)
            let extreme = signedExtreme(src, count: 256)
            if extreme == 0 {
                block.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
                continue
            }
            let iscale = -127 / extreme
            for j in 0..<256 { qs[j] = saturatingInt8(min(127, (iscale * src[j]).rounded(.toNearestOrEven))) }
            for g in 0..<16 {
                var sum: Int32 = 0
                for j in 0..<16 { sum &+= Int32(qs[g &* 16 &+ j]) }
                block.storeBytes(of: Int16(sum), toByteOffset: bsumsOffset + g * 2, as: Int16.self)
            }
            block.storeBytes(of: 1 / iscale, toByteOffset: 0, as: Float.self)
        }
    }

    #if CTXBENCH_AVX2
    /// `quantizeReference`, 8 lanes at a time, byte for byte the same. Per block of 256: one pass for
    /// the largest magnitude (vmaxps with the running max as second operand skips NaN lanes, as the
    /// reference's `>` does), one compare-and-movemask pass that stops at the first lane equal to it
    /// (the extreme's sign picks the scale's), then per 32 values: scale, clamp to [-128, 127]
    /// (vminps with 127 second turns NaN into 127 like the reference's `min`), round half to even,
    /// pack to bytes in order (vpackssdw, vpacksswb, vpermd), and the two 16-value sums.
    /// Clamping before rounding gives the reference's round-then-saturate: the bounds are integers.
    public static func quantizeAVX2(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        let order = unsafeBitCast(SIMD8<Int32>(0, 4, 1, 5, 2, 6, 3, 7), to: AVX2Lanes.V.self)
        @inline(__always) func values(_ src: UnsafePointer<Float>, _ k: Int) -> SIMD8<Float> {
            UnsafeRawPointer(src + k &* 8).loadUnaligned(as: SIMD8<Float>.self)
        }
        for b in 0..<(count / 256) {
            let src = x + b &* 256
            let block = out + b &* blockBytes
            var largest = SIMD8<Float>()
            for k in 0..<32 { largest = ctx_max_ps(AVX2Lanes.magnitude(values(src, k)), largest) }
            var amax: Float = 0
            for i in 0..<8 where largest[i] > amax { amax = largest[i] }
            if amax == 0 {
                block.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
                continue
            }
            var first = 0
            let target = SIMD8<Float>(repeating: amax)
            for k in 0..<32 {
                let hits = ctx_movemask_ps(ctx_equal_ps(AVX2Lanes.magnitude(values(src, k)), target))
                if hits != 0 { first = k &* 8 &+ hits.trailingZeroBitCount; break }
            }
            let iscale = -127 / src[first]
            let scale = SIMD8<Float>(repeating: iscale)
            @inline(__always) func levels(_ k: Int) -> SIMD8<Int32> {
                let clamped = ctx_max_ps(ctx_min_ps(values(src, k) * scale, SIMD8(repeating: 127)), SIMD8(repeating: -128))
                return unsafeBitCast(ctx_cvttps_epi32(ctx_round_even_ps(clamped)), to: SIMD8<Int32>.self)
            }
            for c in 0..<8 {
                let q = (levels(4 &* c), levels(4 &* c &+ 1), levels(4 &* c &+ 2), levels(4 &* c &+ 3))
                @inline(__always) func v(_ l: SIMD8<Int32>) -> AVX2Lanes.V { unsafeBitCast(l, to: AVX2Lanes.V.self) }
                let bytes = ctx_packs_epi16(ctx_packs_epi32(v(q.0), v(q.1)), ctx_packs_epi32(v(q.2), v(q.3)))
                (block + qsOffset + c &* 32).storeBytes(of: ctx_permutevar8x32_epi32(bytes, order), as: AVX2Lanes.V.self)
                let sums = (q.0 &+ q.1, q.2 &+ q.3)
                block.storeBytes(of: Int16(truncatingIfNeeded: sums.0.wrappedSum()), toByteOffset: bsumsOffset + c &* 4, as: Int16.self)
                block.storeBytes(of: Int16(truncatingIfNeeded: sums.1.wrappedSum()), toByteOffset: bsumsOffset + c &* 4 &+ 2, as: Int16.self)
            }
            block.storeBytes(of: 1 / iscale, toByteOffset: 0, as: Float.self)
        }
    }
    #endif

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let block = q + b &* blockBytes
            let d = block.loadUnaligned(as: Float.self)
            let qs = (block + qsOffset).assumingMemoryBound(to: Int8.self)
            for j in 0..<256 { out[b &* 256 &+ j] = d * Float(qs[j]) }
        }
    }

    @inline(__always) static func scale(_ block: UnsafeRawPointer) -> Float { block.loadUnaligned(as: Float.self) }
    @inline(__always) static func bsum(_ block: UnsafeRawPointer, _ g: Int) -> Int32 {
        Int32(block.loadUnaligned(fromByteOffset: bsumsOffset &+ g &* 2, as: Int16.self))
    }
}
