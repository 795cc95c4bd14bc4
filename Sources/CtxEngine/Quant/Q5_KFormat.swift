/// ggml GGML_TYPE_Q5_K: super-blocks of 256 values in 8 sub-blocks of 32, q4_K plus a fifth bit.
///
///     offset 0    f16  d           super-block scale for the sub-block scales
///     offset 2    f16  dmin        super-block scale for the sub-block mins
///     offset 4    u8   scales[12]  eight 6-bit scales and eight 6-bit mins, packed as in q4_K
///     offset 16   u8   qh[32]      fifth bits: bit 2g of byte l belongs to value l of sub-block 2g,
///                                  bit 2g+1 to value l of sub-block 2g+1
///     offset 48   u8   qs[128]     low 4 bits, as q4_K's: bytes 32g..<32g+32 hold sub-block 2g in
///                                  their low nibbles and sub-block 2g+1 in their high nibbles
///     176 bytes (5.5 bits per value); x ≈ d * scale_j * q - dmin * min_j, q in 0...31
///
/// Dotted with q8_K activations. With q4_K and q6_K it makes llama.cpp's Q4_K_S and Q4_K_M mixes.
public enum Q5_KFormat: TwoPathDotFormat {
    public static let type = DType.q5_K
    public static let blockValues = 256
    public static let blockBytes = 176
    public static let activationType = DType.q8_K
    static let scalesOffset = 4
    static let qhOffset = 16
    static let qsOffset = 48

    /// Value l of sub-block j (0...31) of the block at `block`.
    @inline(__always)
    static func level(_ block: UnsafeRawPointer, _ j: Int, _ l: Int) -> Int32 {
        let qs = block.load(fromByteOffset: qsOffset &+ (j &>> 1) &* 32 &+ l, as: UInt8.self)
        let qh = block.load(fromByteOffset: qhOffset &+ l, as: UInt8.self)
        let low = j & 1 == 0 ? qs & 0x0F : qs >> 4
        return Int32(low) | Int32((qh >> UInt8(j)) & 1) << 4
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let block = q + b &* blockBytes
            let d = block.f16(at: 0), dmin = block.f16(at: 2)
            let scales = (block + scalesOffset).assumingMemoryBound(to: UInt8.self)
            for j in 0..<8 {
                let (s, m) = Q4_KFormat.scaleMin(scales, j)
                let step = d * Float(s), offset = dmin * Float(m)
                for l in 0..<32 { out[b &* 256 &+ j &* 32 &+ l] = step * Float(level(block, j, l)) - offset }
            }
        }
    }

    /// q4_K's fit with levels 0...31: the low nibbles in qs as q4_K's, the fifth bits in qh.
    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        Q4_KFormat.quantizeAffine(x, out, count: count, blockBytes: blockBytes, maxLevel: 31) { block, levels in
            let qh = (block + qhOffset).assumingMemoryBound(to: UInt8.self)
            let qs = (block + qsOffset).assumingMemoryBound(to: UInt8.self)
            for i in 0..<32 { qh[i] = 0 }
            for i in 0..<128 { qs[i] = 0 }
            for j in 0..<8 {
                for l in 0..<32 {
                    let level = levels[j * 32 + l]
                    qs[(j >> 1) * 32 + l] |= j & 1 == 0 ? level & 0x0F : (level & 0x0F) << 4
                    qh[l] |= (level >> 4) << UInt8(j)
                }
            }
        }
    }

    /// Synthetic weights straight into blocks: uniform 5-bit values, sub-block scales 32...63 and
    /// mins centring each sub-block (dmin * m = d * scale * 15.5), std ≈ `std`.
    public static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float, random: inout SeededRandom) {
        Q4_KFormat.synthesizeAffine(out, count: count, std: std, blockBytes: blockBytes, maxLevel: 31, random: &random)
    }

    #if CTXBENCH_AVX2
    /// q4_K's kernel with the fifth bit (`Q4_KFormat.SuperBlockLanes` with `fifthBitsOffset`): the
    /// 32 qh bytes are loaded once per block and each sub-block's bit or'ed into its nibbles.
    public static func dotAVX2(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        KQuantDot.dot(w, a, count: count, blockBytes: blockBytes, lanes: lanes)
    }

    @inline(__always)
    static func lanes(_ block: UnsafeRawPointer) -> Q4_KFormat.SuperBlockLanes {
        Q4_KFormat.SuperBlockLanes(block, qsOffset: qsOffset, fifthBitsOffset: qhOffset)
    }
    #endif

    /// d_w*d_a * Σ_j scale_j Σ q*a  -  dmin_w*d_a * Σ_j min_j * (Σ a over sub-block j, from bsums).
    public static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        Q4_KFormat.dotPortable(w, a, count: count, blockBytes: blockBytes, qsOffset: qsOffset, fifthBitsOffset: qhOffset)
    }
}

#if CTXBENCH_AVX2
extension Q5_KFormat: IntegerGEMMFormat {
    public static func dot4(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int) -> SIMD4<Float> {
        KQuantDot.dot4(w, a, stride: stride, count: count, blockBytes: blockBytes, lanes: lanes)
    }
    #if CTXBENCH_AVX512
    public static func dot8(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int) -> SIMD8<Float> {
        KQuantDot.dot8(w, a, stride: stride, count: count, blockBytes: blockBytes, lanes: lanes)
    }
    #endif
}
#endif
