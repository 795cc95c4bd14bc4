/// ggml GGML_TYPE_F16: IEEE half precision, converted with round-to-nearest-even (as F16C does).
/// Pairs with f32 activations rounded to f16 (ggml's vec_dot_type); GEMV stores them as f16
/// (`SixteenBitFloatDot.dotSameFormat`), half the bytes to keep in L1 beside the weight stream.
public enum F16Format: WeightFormat, SixteenBitFloatFormat {
    public static let type = DType.f16
    public static let blockValues = 1
    public static let blockBytes = 2
    public static let activationType = DType.f32
    /// llama.cpp rounds activations to f16 for these weights (its vec_dot_type); the dot products then
    /// take the rounded values as f32.
    public static let vecDotType = DType.f16

    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        let o = out.assumingMemoryBound(to: Float16.self)
        for i in 0..<count { o[i] = Float16(x[i]) }
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let h = q.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD8<Float>(h), as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < count {
            out[i] = q.f16(at: i &* 2)
            i &+= 1
        }
    }

    public static func dot(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        SixteenBitFloatDot.dot(F16Format.self, w, a, count: count)
    }
    public static func preparedActivationBytes(count: Int) -> Int { SixteenBitFloatDot.preparedBytes(count: count) }
    public static func prepareActivation(_ activation: UnsafeRawPointer, _ out: UnsafeMutableRawPointer, count: Int, blocks: Range<Int>) {
        SixteenBitFloatDot.prepare(F16Format.self, activation, out, blocks: blocks)
    }
    public static func dotPrepared(_ w: UnsafeRawPointer, _ prepared: UnsafeRawPointer, count: Int) -> Float {
        SixteenBitFloatDot.dotSameFormat(F16Format.self, w, prepared, count: count)
    }

    /// 8 halves at value index `i` as floats (vcvtph2ps).
    @inline(__always)
    static func widen(_ w: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        SIMD8<Float>(w.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self))
    }

    static func value(_ w: UnsafeRawPointer, at i: Int) -> Float { w.f16(at: i &* 2) }
}
