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

    /// Two 8-wide chains: vcvtph2ps + vfmadd231ps per 8 values (checked in the assembly); 32 values
    /// (one cache line of weights, one prefetch) per iteration.
    public static func dot(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        @inline(__always) func widen(_ i: Int) -> SIMD8<Float> {
            SIMD8<Float>(w.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self))
        }
        @inline(__always) func x(_ i: Int) -> SIMD8<Float> { a.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) }
        var i = 0
        while i + 32 <= count {
            Prefetch.ahead(w + i &* 2, bytes: 64, distance: Prefetch.floatDistance)
            acc0.addProduct(widen(i), x(i))
            acc1.addProduct(widen(i &+ 8), x(i &+ 8))
            acc0.addProduct(widen(i &+ 16), x(i &+ 16))
            acc1.addProduct(widen(i &+ 24), x(i &+ 24))
            i &+= 32
        }
        while i + 8 <= count {
            acc0.addProduct(widen(i), x(i))
            i &+= 8
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
