#if CTXBENCH_AVX2
import CX86Intrinsics
#endif

/// ggml GGML_TYPE_BF16: the upper 16 bits of an IEEE single, rounded to nearest even
/// (ggml_compute_fp32_to_bf16: NaN stays a quiet NaN). Pairs with activations rounded to bf16, as
/// llama.cpp converts them (its vec_dot_type for bf16), 2 bytes a value (`SixteenBitFloatDot`).
public enum BF16Format: WeightFormat, SixteenBitFloatFormat {
    public static let type = DType.bf16
    public static let blockValues = 1
    public static let blockBytes = 2
    public static let activationType = DType.bf16

    @inline(__always)
    public static func encode(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 64) }
        return UInt16(truncatingIfNeeded: (bits &+ (0x7fff &+ ((bits >> 16) & 1))) >> 16)
    }

    @inline(__always)
    public static func decode(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        let o = out.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { o[i] = encode(x[i]) }
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(out + i).storeBytes(of: widen(q, i), as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < count {
            out[i] = decode(q.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
            i &+= 1
        }
    }

    /// 8 bf16 at value index `i` as floats: zero-extend to 32 bits and shift left 16 (vpmovzxwd + vpslld).
    @inline(__always)
    static func widen(_ q: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        #if CTXBENCH_AVX2
        let h = q.loadUnaligned(fromByteOffset: i &* 2, as: SIMD2<Int64>.self)
        return unsafeBitCast(unsafeBitCast(ctx_cvtepu16_epi32(h), to: SIMD8<UInt32>.self) &<< 16, to: SIMD8<Float>.self)
        #else
        let h = q.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD8<Float>.self)
        #endif
    }

    public static func dot(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        SixteenBitFloatDot.dot(BF16Format.self, w, a, count: count)
    }

    static func value(_ w: UnsafeRawPointer, at i: Int) -> Float {
        decode(w.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
    }
}
