/// ggml GGML_TYPE_F32: plain little-endian IEEE single precision.
public enum F32Format: WeightFormat {
    public static let type = DType.f32
    public static let blockValues = 1
    public static let blockBytes = 4
    public static let activationType = DType.f32

    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        out.copyMemory(from: x, byteCount: count * 4)
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        UnsafeMutableRawPointer(out).copyMemory(from: q, byteCount: count * 4)
    }

    public static func dot(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        VectorOps.dot(w.assumingMemoryBound(to: Float.self), a.assumingMemoryBound(to: Float.self), count)
    }
}
