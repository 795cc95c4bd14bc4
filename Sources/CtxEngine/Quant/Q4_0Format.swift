/// ggml GGML_TYPE_Q4_0: blocks of 32 values.
///
///     offset 0   f16   d        scale: (the value with the largest magnitude) / -8
///     offset 2   u8    qs[16]   low nibble of qs[j] is value j, high nibble is value j + 16
///     18 bytes (4.5 bits per value); x ≈ d * (nibble - 8)
///
/// Dotted with q8_0 activations.
public enum Q4_0Format: TwoPathDotFormat {
    public static let type = DType.q4_0
    public static let blockValues = 32
    public static let blockBytes = 18
    public static let activationType = DType.q8_0
    static let qsOffset = 2

    /// quantize_row_q4_0_ref: the signed extreme maps to -8; q = min(15, trunc(x/d + 8.5)).
    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<(count / 32) {
            let src = x + b &* 32
            let block = out + b &* blockBytes
            let d = signedExtreme(src, count: 32) / -8
            let id: Float = d != 0 ? 1 / d : 0
            block.storeF16(d, at: 0)
            let qs = (block + qsOffset).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                // (int8_t)(x + 8.5f) truncates toward zero; x/d is within [-8, 8] for finite input.
                let lo = min(15, max(0, saturatingInt8(src[j] * id + 8.5)))
                let hi = min(15, max(0, saturatingInt8(src[j + 16] * id + 8.5)))
                qs[j] = UInt8(lo) | UInt8(hi) << 4
            }
        }
    }

    /// Synthetic weights straight into blocks: uniform nibbles (levels -8...7, std 4.61).
    public static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float,
                                  random: inout SeededRandom) {
        for b in 0..<(count / 32) {
            let block = out + b &* blockBytes
            block.storeF16(std / 4.61, at: 0)
            random.fillBytes(block + qsOffset, count: 16)
        }
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let block = q + b &* blockBytes
            let d = block.f16(at: 0)
            let qs = (block + qsOffset).assumingMemoryBound(to: UInt8.self)
            let o = out + b &* 32
            for j in 0..<16 {
                o[j] = d * Float(Int32(qs[j] & 0x0F) - 8)
                o[j + 16] = d * Float(Int32(qs[j] >> 4) - 8)
            }
        }
    }

    /// The 16 nibble bytes as 16-bit lanes: [q, q >> 4] puts values 0..15 (low nibbles) in the low
    /// half and 16..31 in the high half, in the even/odd byte order `Int8Lanes.evenOdd` gives the
    /// activations.
    @inline(__always)
    static func levels(_ qs: UnsafeRawPointer) -> (even: Int8Lanes.I16, odd: Int8Lanes.I16) {
        let q = qs.loadUnaligned(as: SIMD8<Int16>.self)
        let both = Int8Lanes.I16(lowHalf: q, highHalf: q &>> 4)
        let eight = Int8Lanes.I16(repeating: 8)
        return ((both & 0x0F) &- eight, ((both &>> 8) & 0x0F) &- eight)
    }

    #if CTXBENCH_AVX2
    /// Nibbles to bytes (values 0..15 then 16..31, the q8_0 order), minus 8, then the q8_0 kernel.
    public static func dotAVX2(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        Q8_0Format.dotAgainstQ8_0AVX2(Q4_0Format.self, w, a, count: count)
    }

    @inline(__always)
    static func avx2Levels(_ block: UnsafeRawPointer) -> AVX2Lanes.V {
        let q = (block + qsOffset).loadUnaligned(as: SIMD2<Int64>.self)
        let high = unsafeBitCast(unsafeBitCast(q, to: SIMD8<UInt16>.self) &>> 4, to: SIMD2<Int64>.self)
        let both = AVX2Lanes.V(lowHalf: q, highHalf: high) & AVX2Lanes.bytes(0x0F)
        return unsafeBitCast(unsafeBitCast(both, to: SIMD32<Int8>.self) &- SIMD32<Int8>(repeating: 8), to: AVX2Lanes.V.self)
    }

    public static func preparedActivationBytes(count: Int) -> Int { Q8_0PairedActivation.byteCount(count: count) }

    public static func prepareActivation(_ activation: UnsafeRawPointer, _ out: UnsafeMutableRawPointer,
                                         count: Int, blocks: Range<Int>) {
        Q8_0PairedActivation.build(activation, out, count: count, blocks: blocks)
    }

    /// GEMV's q4_0 kernel, against `Q8_0PairedActivation`. Σ (n - 8) * a = Σ n * a - 8 * Σ a: the
    /// nibbles n (0...15) go into vpmaddubsw unsigned as they are, and the -8 term comes from the
    /// prepared block sums, one FMA per 8 blocks, so the vpabsb/vpsignb/subtract of `dotAVX2` are
    /// gone. Two blocks share each vector: [block b's 16 nibble bytes | block b+1's] masked gives
    /// both blocks' values 0..<16, shifted and masked their values 16..<32, matching the pair
    /// layout. Four pairs' int16 partials reduce to eight block sums in one vector
    /// (`AVX2Lanes.blockSums16`), so one vcvtdq2ps and one FMA with the eight scales serve 8
    /// blocks. Range: a partial lane holds 2 products of at most 15 * 128, lo + hi 4, and the two
    /// vphaddw rounds 16 of them: 30720 < 32768, so the int16 sums cannot wrap.
    public static func dotPrepared(_ w: UnsafeRawPointer, _ prepared: UnsafeRawPointer, count: Int) -> Float {
        let blocks = count / 32
        let aScale = Q8_0PairedActivation.scales(prepared)
        let aSum = Q8_0PairedActivation.sums(prepared, count: count)
        let pairs = Q8_0PairedActivation.pairs(prepared, count: count)
        let mask = AVX2Lanes.bytes(0x0F)
        var acc = SIMD8<Float>(), offsets = SIMD8<Float>()
        // Σ n * a of blocks b and b + 1 as 16 int16 (8 each); `second` is block b + 1's nibbles.
        @inline(__always) func pairPartials(_ b: Int, _ second: UnsafeRawPointer) -> AVX2Lanes.V {
            let first = (w + (b &* blockBytes &+ qsOffset)).loadUnaligned(as: SIMD2<Int64>.self)
            let q = AVX2Lanes.V(lowHalf: first, highHalf: second.loadUnaligned(as: SIMD2<Int64>.self))
            let a = pairs + b &* 32
            let lo = AVX2Lanes.maddubs(q & mask, AVX2Lanes.load(a))
            let hi = AVX2Lanes.maddubs(AVX2Lanes.shiftRight16(q, 4) & mask, AVX2Lanes.load(a + 32))
            return AVX2Lanes.add16(lo, hi)
        }
        var b = 0
        while b &+ 8 <= blocks {
            let wg = w + b &* blockBytes
            Prefetch.ahead(wg, bytes: 8 &* blockBytes)
            // Both in EvensThenOdds order: the weight scales gathered that way, the activation's stored so.
            let ws = AVX2Lanes.halves8(wg, stride: blockBytes, evensThenOdds: true)
            let sums = AVX2Lanes.blockSums16(pairPartials(b, wg + (blockBytes &+ qsOffset)),
                                             pairPartials(b &+ 2, wg + (3 &* blockBytes &+ qsOffset)),
                                             pairPartials(b &+ 4, wg + (5 &* blockBytes &+ qsOffset)),
                                             pairPartials(b &+ 6, wg + (7 &* blockBytes &+ qsOffset)))
            acc.addProduct(AVX2Lanes.float(sums), ws * UnsafeRawPointer(aScale + b).load(as: SIMD8<Float>.self))
            offsets.addProduct(ws, UnsafeRawPointer(aSum + b).load(as: SIMD8<Float>.self))
            b &+= 8
        }
        var tail: Float = 0
        while b < blocks {
            // The last pair of an odd row has no block b + 1: its activation is zero padding, and
            // block b's nibbles stand in for the missing ones (read, multiplied by 0).
            let w0 = w + b &* blockBytes
            let hasSecond = b &+ 1 < blocks
            let second = hasSecond ? w0 + (blockBytes &+ qsOffset) : w0 + qsOffset
            let sums = AVX2Lanes.pairSums16(pairPartials(b, second))
            let s0 = (sums[0] &+ sums[1]) &+ (sums[2] &+ sums[3])
            let s1 = (sums[4] &+ sums[5]) &+ (sums[6] &+ sums[7])
            let i0 = Q8_0PairedActivation.slot(of: b), i1 = Q8_0PairedActivation.slot(of: b &+ 1)
            let ws0 = AVX2Lanes.half(w0, 0), ws1 = hasSecond ? AVX2Lanes.half(w0 + blockBytes, 0) : 0
            tail += ws0 * (aScale[i0] * Float(s0) - 8 * aSum[i0])
            if hasSecond { tail += ws1 * (aScale[i1] * Float(s1) - 8 * aSum[i1]) }
            b &+= 2
        }
        return acc.sum() - 8 * offsets.sum() + tail
    }
    #endif

    /// Portable SIMD (any ISA).
    public static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<(count / 32) {
            let wb = w + b &* blockBytes
            let ab = a + b &* Q8_0Format.blockBytes
            Prefetch.ahead(wb, bytes: blockBytes)
            let sums = Int8Lanes.dot32(levels(wb + qsOffset), Int8Lanes.evenOdd(ab + Q8_0Format.qsOffset))
            acc.addProduct(SIMD8<Float>(sums), SIMD8<Float>(repeating: wb.f16(at: 0) * ab.f16(at: 0)))
        }
        return acc.sum()
    }
}
