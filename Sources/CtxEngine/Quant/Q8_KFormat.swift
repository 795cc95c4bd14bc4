/// ggml GGML_TYPE_Q8_K: the activation format K-quant weights are dotted with. Blocks of 256.
///
///     offset 0    f32   d           scale (1 / iscale)
///     offset 4    i8    qs[256]
///     offset 260  i16   bsums[16]   sums of each 16 consecutive qs (the K-quant min terms use them)
///     292 bytes
public enum Q8_KFormat: QuantFormat {
    public static let type = DType.q8_K
    public static let blockValues = 256
    public static let blockBytes = 292
    static let qsOffset = 4
    static let bsumsOffset = 260

    /// quantize_row_q8_K_ref: iscale = -127 / (signed extreme), q = min(127, round-half-even(x * iscale)).
    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<(count / 256) {
            let src = x + b &* 256
            let block = out + b &* blockBytes
            let qs = (block + qsOffset).assumingMemoryBound(to: Int8.self)
            var amax: Float = 0, extreme: Float = 0
            for j in 0..<256 where abs(src[j]) > amax {
                amax = abs(src[j])
                extreme = src[j]
            }
            if amax == 0 {
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
