/// ggml GGML_TYPE_F16: IEEE half precision, converted with round-to-nearest-even (as F16C does).
/// Pairs with activations rounded to f16, as llama.cpp's CPU backend converts them (ggml's
/// vec_dot_type for f16) and keeps them: 2 bytes a value (`SixteenBitFloatDot`).
public enum F16Format: WeightFormat, SixteenBitFloatFormat {
    public static let type = DType.f16
    public static let blockValues = 1
    public static let blockBytes = 2
    public static let activationType = DType.f16

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

    /// 8 halves at value index `i` as floats (vcvtph2ps).
    @inline(__always)
    static func widen(_ w: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        SIMD8<Float>(w.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self))
    }

    static func value(_ w: UnsafeRawPointer, at i: Int) -> Float { w.f16(at: i &* 2) }
}
