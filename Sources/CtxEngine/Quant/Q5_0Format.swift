/// ggml GGML_TYPE_Q5_0: blocks of 32 values.
///
///     offset 0   f16   d        scale: (the value with the largest magnitude) / -16
///     offset 2   u32   qh       bit j is the fifth bit of value j (little-endian)
///     offset 6   u8    qs[16]   low nibble of qs[j] is value j, high nibble is value j + 16
///     22 bytes (5.5 bits per value); x ≈ d * ((nibble | fifth bit << 4) - 16)
///
/// Dotted with q8_0 activations. llama.cpp's K-quant recipes fall back to q5_0 for tensors whose
/// rows are not a multiple of 256 (Kimi-Linear's 128-wide KDA gate projections in Q4_K files).
public enum Q5_0Format: TwoPathDotFormat {
    public static let type = DType.q5_0
    public static let blockValues = 32
    public static let blockBytes = 22
    public static let activationType = DType.q8_0
    static let qhOffset = 2
    static let qsOffset = 6

    /// quantize_row_q5_0_ref: the signed extreme maps to -16; q = min(31, trunc(x/d + 16.5)).
    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<(count / 32) {
            let src = x + b &* 32
            let block = out + b &* blockBytes
            let d = signedExtreme(src, count: 32) / -16
            let id: Float = d != 0 ? 1 / d : 0
            block.storeF16(d, at: 0)
            let qs = (block + qsOffset).assumingMemoryBound(to: UInt8.self)
            var qh: UInt32 = 0
            for j in 0..<16 {
                let lo = UInt32(min(31, max(0, saturatingInt8(src[j] * id + 16.5))))
                let hi = UInt32(min(31, max(0, saturatingInt8(src[j + 16] * id + 16.5))))
                qs[j] = UInt8(lo & 0x0F) | UInt8(hi & 0x0F) << 4
                qh |= (lo >> 4) << j | (hi >> 4) << (j + 16)
            }
            (block + qhOffset).storeBytes(of: qh.littleEndian, as: UInt32.self)
        }
    }

    /// Synthetic weights straight into blocks: uniform levels -16...15 (std 9.23).
    public static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float,
                                  random: inout SeededRandom) {
        for b in 0..<(count / 32) {
            let block = out + b &* blockBytes
            block.storeF16(std / 9.23, at: 0)
            random.fillBytes(block + qhOffset, count: 20)
        }
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let block = q + b &* blockBytes
            let d = block.f16(at: 0)
            let qh = UInt32(littleEndian: (block + qhOffset).loadUnaligned(as: UInt32.self))
            let qs = (block + qsOffset).assumingMemoryBound(to: UInt8.self)
            let o = out + b &* 32
            for j in 0..<16 {
                let lo = Int32(qs[j] & 0x0F) | Int32((qh >> j) & 1) << 4
                let hi = Int32(qs[j] >> 4) | Int32((qh >> (j + 16)) & 1) << 4
                o[j] = d * Float(lo - 16)
                o[j + 16] = d * Float(hi - 16)
            }
        }
    }

    /// The 32 signed levels of a block in value order (0..31), in portable SIMD: the nibbles as
    /// q4_0's, and qh's 32 bits spread to one byte each (byte i of the four 8-byte lanes holds qh's
    /// byte i / 8), shifted right by i % 8 and masked to the fifth bit. Plain shifts and masks only:
    /// SIMD mask operations (`.!=`, `replacing(with:where:)`) became lane-by-lane loops.
    @inline(__always)
    static func levels(_ block: UnsafeRawPointer) -> SIMD32<Int8> {
        let qs = (block + qsOffset).loadUnaligned(as: SIMD8<UInt16>.self)
        let nibbles = unsafeBitCast(SIMD16<UInt16>(lowHalf: qs, highHalf: qs &>> 4), to: SIMD32<UInt8>.self) & 0x0F
        let qh = UInt64(UInt32(littleEndian: (block + qhOffset).loadUnaligned(as: UInt32.self)))
        let spread = (SIMD4<UInt64>(qh, qh >> 8, qh >> 16, qh >> 24) & 0xFF) &* 0x0101_0101_0101_0101
        let shifts = SIMD32<UInt8>(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7,
                                   0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7)
        let fifth = ((unsafeBitCast(spread, to: SIMD32<UInt8>.self) &>> shifts) & 1) &<< 4
        return unsafeBitCast(nibbles | fifth, to: SIMD32<Int8>.self) &- 16
    }

    #if CTXBENCH_AVX2
    /// The levels in the q8_0 order, then the q8_0 kernel.
    public static func dotAVX2(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        Q8_0Format.dotAgainstQ8_0AVX2(Q5_0Format.self, w, a, count: count)
    }

    /// The nibbles as q4_0's (values 0..15 from the low nibbles, 16..31 from the high), then, as
    /// ggml's AVX2 q5_0 dot: a level is nibble - 16 where the fifth bit is clear, so 0xF0 is or'ed
    /// into exactly those bytes (qh spread to bytes, 0xF0 and-not it).
    @inline(__always)
    static func avx2Levels(_ block: UnsafeRawPointer) -> AVX2Lanes.V {
        let q = (block + qsOffset).loadUnaligned(as: SIMD2<Int64>.self)
        let high = unsafeBitCast(unsafeBitCast(q, to: SIMD8<UInt16>.self) &>> 4, to: SIMD2<Int64>.self)
        let nibbles = AVX2Lanes.V(lowHalf: q, highHalf: high) & AVX2Lanes.bytes(0x0F)
        let fifth = AVX2Lanes.bytesFromBits(UInt32(littleEndian: (block + qhOffset).loadUnaligned(as: UInt32.self)))
        return nibbles | (AVX2Lanes.bytes(0xF0) & ~fifth)
    }
    #endif

    /// Portable SIMD (any ISA): the levels split into even and odd bytes as `Int8Lanes.evenOdd`.
    public static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<(count / 32) {
            let wb = w + b &* blockBytes
            let ab = a + b &* Q8_0Format.blockBytes
            Prefetch.ahead(wb, bytes: blockBytes)
            let v = unsafeBitCast(levels(wb), to: Int8Lanes.I16.self)
            let sums = Int8Lanes.dot32(((v &<< 8) &>> 8, v &>> 8), Int8Lanes.evenOdd(ab + Q8_0Format.qsOffset))
            acc.addProduct(SIMD8<Float>(sums), SIMD8<Float>(repeating: wb.f16(at: 0) * ab.f16(at: 0)))
        }
        return acc.sum()
    }
}
