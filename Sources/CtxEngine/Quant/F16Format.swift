/// ggml GGML_TYPE_F16: IEEE half precision, converted with round-to-nearest-even (as F16C does).
/// Pairs with f32 activations (ggml pairs it with f16; f32 keeps the activation exact and costs
/// nothing in a memory-bound GEMV).
public enum F16Format: WeightFormat {
    public static let type = DType.f16
    public static let blockValues = 1
    public static let blockBytes = 2
    public static let activationType = DType.f32

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

    /// Two 8-wide chains: vcvtph2ps + vfmadd231ps per 8 values (checked in the assembly).
    public static func dot(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= count {
            let h0 = w.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self)
            let h1 = w.loadUnaligned(fromByteOffset: i &* 2 &+ 16, as: SIMD8<Float16>.self)
            acc0.addProduct(SIMD8<Float>(h0), a.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self))
            acc1.addProduct(SIMD8<Float>(h1), a.loadUnaligned(fromByteOffset: i &* 4 &+ 32, as: SIMD8<Float>.self))
            i &+= 16
        }
        var total = (acc0 + acc1).sum()
        let x = a.assumingMemoryBound(to: Float.self)
        while i < count {
            total += w.f16(at: i &* 2) * x[i]
            i &+= 1
        }
        return total
    }
}
