/// ggml GGML_TYPE_Q4_K: super-blocks of 256 values in 8 sub-blocks of 32.
///
///     offset 0    f16  d           super-block scale for the sub-block scales
///     offset 2    f16  dmin        super-block scale for the sub-block mins
///     offset 4    u8   scales[12]  eight 6-bit scales and eight 6-bit mins, packed (see `scaleMin`)
///     offset 16   u8   qs[128]     4-bit values: bytes 32g..<32g+32 hold sub-block 2g in their low
///                                  nibbles and sub-block 2g+1 in their high nibbles
///     144 bytes (4.5 bits per value); x ≈ d * scale_j * q - dmin * min_j
///
/// Dotted with q8_K activations.
public enum Q4_KFormat: TwoPathDotFormat {
    public static let type = DType.q4_K
    public static let blockValues = 256
    public static let blockBytes = 144
    public static let activationType = DType.q8_K
    static let scalesOffset = 4
    static let qsOffset = 16

    /// All 8 scales and mins from the 12 packed bytes at `packed`, read as three little-endian
    /// words and unpacked with whole-word masks: byte j of `scales` is sub-block j's 6-bit scale,
    /// byte j of `mins` its min. Equals `scaleMin` for every j (tested).
    @inline(__always)
    static func unpackScalesAndMins(_ packed: UnsafeRawPointer) -> (scales: UInt64, mins: UInt64) {
        let w0 = packed.loadUnaligned(as: UInt32.self)
        let w1 = packed.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let w2 = packed.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let scalesHigh = (w2 & 0x0F0F_0F0F) | (((w0 >> 6) & 0x0303_0303) << 4)
        let minsHigh = ((w2 >> 4) & 0x0F0F_0F0F) | (((w1 >> 6) & 0x0303_0303) << 4)
        return (UInt64(w0 & 0x3F3F_3F3F) | UInt64(scalesHigh) << 32,
                UInt64(w1 & 0x3F3F_3F3F) | UInt64(minsHigh) << 32)
    }

    /// get_scale_min_k4: sub-block j's 6-bit scale and min. The first four live in the low 6 bits of
    /// bytes j and j+4; the last four split into a low nibble in byte j+4 and 2 high bits on top of
    /// bytes j-4 (scale) and j (min).
    @inline(__always)
    static func scaleMin(_ s: UnsafePointer<UInt8>, _ j: Int) -> (scale: Int32, min: Int32) {
        if j < 4 {
            return (Int32(s[j] & 63), Int32(s[j &+ 4] & 63))
        }
        return (Int32((s[j &+ 4] & 0x0F) | ((s[j &- 4] >> 6) << 4)),
                Int32((s[j &+ 4] >> 4) | ((s[j] >> 6) << 4)))
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let block = q + b &* blockBytes
            let d = block.f16(at: 0), dmin = block.f16(at: 2)
            let scales = (block + scalesOffset).assumingMemoryBound(to: UInt8.self)
            let qs = (block + qsOffset).assumingMemoryBound(to: UInt8.self)
            let o = out + b &* 256
            for g in 0..<4 {
                let (s0, m0) = scaleMin(scales, 2 &* g)
                let (s1, m1) = scaleMin(scales, 2 &* g &+ 1)
                let d0 = d * Float(s0), min0 = dmin * Float(m0)
                let d1 = d * Float(s1), min1 = dmin * Float(m1)
                for l in 0..<32 {
                    let byte = qs[g &* 32 &+ l]
                    o[g &* 64 &+ l] = d0 * Float(byte & 0x0F) - min0
                    o[g &* 64 &+ 32 &+ l] = d1 * Float(byte >> 4) - min1
                }
            }
        }
    }

    /// Per sub-block: an affine fit x ≈ scale * q + min (min <= 0, q in 0...15) chosen by a grid of
    /// starting scales each refined by least squares, keeping the lowest squared error (the
    /// reference's make_qkx2_quants idea, unweighted). Then the 8 scales and 8 mins are quantized
    /// to 6 bits against the super-block maxima, and the values re-quantized with the stored scales.
    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        quantizeAffine(x, out, count: count, blockBytes: blockBytes, maxLevel: 15) { block, levels in
            let qs = (block + qsOffset).assumingMemoryBound(to: UInt8.self)
            for g in 0..<4 {
                for l in 0..<32 { qs[g * 32 + l] = levels[g * 64 + l] | (levels[g * 64 + 32 + l] << 4) }
            }
        }
    }

    /// The fit q4_K and q5_K share (levels 0...maxLevel): scales, mins and the two f16 super-block
    /// scales written to each block, then `store` packs the block's 256 levels (re-quantized with
    /// the scales as stored) in the type's own layout.
    static func quantizeAffine(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int, blockBytes: Int,
                               maxLevel: Int, store: (UnsafeMutableRawPointer, [UInt8]) -> Void) {
        var levels = [UInt8](repeating: 0, count: 256)
        var subScales = [Float](repeating: 0, count: 8)
        var subMins = [Float](repeating: 0, count: 8)  // stored as positive offsets: x ≈ scale*q - min
        let top = Float(maxLevel)
        for b in 0..<(count / 256) {
            let src = x + b &* 256
            let block = out + b &* blockBytes
            for j in 0..<8 {
                let fit = AffineFit.best(src + j &* 32, count: 32, levels: maxLevel)
                subScales[j] = fit.scale
                subMins[j] = -fit.offset
            }
            let maxScale = subScales.max() ?? 0, maxMin = subMins.max() ?? 0
            let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
            let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
            var ls = [UInt8](repeating: 0, count: 8), lm = [UInt8](repeating: 0, count: 8)
            for j in 0..<8 {
                ls[j] = UInt8(min(63, max(0, (invScale * subScales[j]).rounded(.toNearestOrEven))))
                lm[j] = UInt8(min(63, max(0, (invMin * subMins[j]).rounded(.toNearestOrEven))))
            }
            let scales = (block + scalesOffset).assumingMemoryBound(to: UInt8.self)
            packScaleMins(ls, lm, into: scales)
            block.storeF16(maxScale / 63, at: 0)
            block.storeF16(maxMin / 63, at: 2)
            // Re-quantize with the scales as stored (f16 super-scales times 6-bit sub-scales).
            let d = block.f16(at: 0), dmin = block.f16(at: 2)
            for j in 0..<8 {
                let (s, m) = scaleMin(UnsafePointer(scales), j)
                let step = d * Float(s)
                let offset = dmin * Float(m)
                for l in 0..<32 {
                    let value = step != 0 ? ((src[j * 32 + l] + offset) / step).rounded() : 0
                    levels[j * 32 + l] = UInt8(min(top, max(0, value.isNaN ? 0 : value)))
                }
            }
            store(block, levels)
        }
    }

    /// The inverse of `scaleMin`: packs eight 6-bit scales and mins into the 12 scale bytes.
    static func packScaleMins(_ ls: [UInt8], _ lm: [UInt8], into scales: UnsafeMutablePointer<UInt8>) {
        for j in 0..<12 { scales[j] = 0 }
        for j in 0..<8 {
            if j < 4 {
                scales[j] = ls[j]
                scales[j + 4] = lm[j]
            } else {
                scales[j + 4] = (ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4)
                scales[j - 4] |= (ls[j] >> 4) << 6
                scales[j] |= (lm[j] >> 4) << 6
            }
        }
    }

    /// Synthetic weights straight into blocks: uniform nibbles, sub-block scales 32...63 and mins
    /// chosen so each sub-block is centred (dmin * m = d * scale * 7.5), std ≈ `std`.
    public static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float,
                                  random: inout SeededRandom) {
        synthesizeAffine(out, count: count, std: std, blockBytes: blockBytes, maxLevel: 15, random: &random)
    }

    /// Shared with q5_K: levels uniform in 0...maxLevel (random bytes from offset 16 to the block's
    /// end: q5_K's qh and qs, q4_K's qs), scales 32...63 and the mins that centre each sub-block.
    static func synthesizeAffine(_ out: UnsafeMutableRawPointer, count: Int, std: Float, blockBytes: Int, maxLevel: Int,
                                 random: inout SeededRandom) {
        let top = Float(maxLevel)
        let levelStd = (top * (top + 2) / 12).squareRoot()  // a uniform level in 0...top
        let d = std / (levelStd * 47.5)
        var ls = [UInt8](repeating: 0, count: 8), lm = [UInt8](repeating: 0, count: 8)
        for b in 0..<(count / 256) {
            let block = out + b &* blockBytes
            let bits = random.next()
            for j in 0..<8 {
                ls[j] = 32 + UInt8((bits >> UInt64(5 * j)) & 31)
                lm[j] = UInt8((Float(ls[j]) * (top / 2) / ((top + 1) / 2)).rounded())
            }
            block.storeF16(d, at: 0)
            block.storeF16(d * (top + 1) / 2, at: 2)
            packScaleMins(ls, lm, into: (block + scalesOffset).assumingMemoryBound(to: UInt8.self))
            random.fillBytes(block + 16, count: blockBytes - 16)
        }
    }

    #if CTXBENCH_AVX2
    /// Per block: the 8 scales and 8 mins unpacked together from their 12 bytes with whole-word
    /// masks (not 8 `scaleMin` calls); per 32-value sub-block the nibbles (one 32-byte load serves
    /// sub-blocks 2g and 2g+1) vpmaddubsw'd with the activations and vpmaddwd'd with the 6-bit
    /// scale; the min term Σ_j min_j * (Σ a over sub-block j) as one vpmaddwd of q8_K's 16 bsums
    /// (pairs summed) with the mins, in float lanes: no scalar loop per sub-block (`KQuantDot`).
    public static func dotAVX2(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        KQuantDot.dot(w, a, count: count, blockBytes: blockBytes, lanes: lanes)
    }

    @inline(__always)
    static func lanes(_ block: UnsafeRawPointer) -> SuperBlockLanes {
        SuperBlockLanes(block, qsOffset: qsOffset, fifthBitsOffset: nil)
    }

    /// One q4_K / q5_K super-block's weight side in registers: its scale and min bytes and (q5_K)
    /// fifth bits, from which `part` unpacks one 32-value sub-block at a time. With q5_K's
    /// `fifthBitsOffset` (its 32 qh bytes, loaded once per block) each sub-block's fifth bit is
    /// shifted down, masked and moved to bit 4 (two 16-bit shifts and a mask, the bit never
    /// crossing a byte) and or'ed into the nibbles; values 0...31 still go through vpmaddubsw
    /// unsigned (31 x 127 x 2 fits int16). Each format's entry point passes a constant offset, so
    /// q4_K's copy has no fifth-bit code.
    struct SuperBlockLanes: KQuantSuperBlockLanes {
        let block: UnsafeRawPointer
        let qsOffset: Int
        let scaleBytes: AVX2Lanes.V
        /// Sub-block j's min in int16 lanes 2j and 2j+1 (j < 4 in the low 128 bits): vpmaddwd with
        /// q8_K's 16 bsums gives Σ a * min per sub-block, in `int32FromBytes`' lane order.
        let minPairs: AVX2Lanes.V
        let fifthBits: AVX2Lanes.V?

        @inline(__always)
        init(_ block: UnsafeRawPointer, qsOffset: Int, fifthBitsOffset: Int?) {
            self.block = block
            self.qsOffset = qsOffset
            let (scales, mins) = unpackScalesAndMins(block + scalesOffset)
            scaleBytes = AVX2Lanes.bothLanes(scales)
            minPairs = AVX2Lanes.shuffleBytes(AVX2Lanes.bothLanes(mins), Self.minPairsControl)
            fifthBits = fifthBitsOffset.map { AVX2Lanes.load(block + $0) }
        }

        /// Sub-block j's 32 values (the low nibbles of its group's 32 bytes for even j, the high
        /// for odd j) and its scale spread over 16 int16 lanes by one vpshufb of the scale bytes.
        /// The two sub-blocks of a group load the same 32 bytes, which LLVM reads once where both
        /// are live.
        @inline(__always)
        func part(_ j: Int) -> (values: AVX2Lanes.V, scale: AVX2Lanes.V) {
            (Self.levels(block, qsOffset: qsOffset, fifthBits: fifthBits, j),
             AVX2Lanes.shuffleBytes(scaleBytes, AVX2Lanes.byteSplatControl(j, j)))
        }

        /// Sub-block j's 32 levels (0...15, or 0...31 with q5_K's fifth bits, its 32 qh bytes) as bytes.
        @inline(__always)
        static func levels(_ block: UnsafeRawPointer, qsOffset: Int, fifthBits: AVX2Lanes.V?, _ j: Int) -> AVX2Lanes.V {
            let q = AVX2Lanes.load(block + (qsOffset &+ (j &>> 1) &* 32))
            var v = AVX2Lanes.shiftRight16(q, UInt16(4 &* (j & 1))) & AVX2Lanes.bytes(0x0F)
            if let fifthBits {
                v |= AVX2Lanes.shiftLeft16(AVX2Lanes.shiftRight16(fifthBits, UInt16(j)) & AVX2Lanes.bytes(0x01), 4)
            }
            return v
        }

        /// vpshufb control for `minPairs`: int16 lane i takes byte i / 2 of its 128-bit lane's
        /// copy of the min bytes, plus 4 in the high lane, zero-extended.
        @inline(__always) static var minPairsControl: AVX2Lanes.V {
            unsafeBitCast(SIMD16<UInt16>(0x8000, 0x8000, 0x8001, 0x8001, 0x8002, 0x8002, 0x8003, 0x8003,
                                         0x8004, 0x8004, 0x8005, 0x8005, 0x8006, 0x8006, 0x8007, 0x8007), to: AVX2Lanes.V.self)
        }

        /// acc += d * d_a * sum, then acc -= dmin * d_a * Σ_j min_j * (Σ a over sub-block j), the
        /// sub-block sums from q8_K's 16 bsums (one vpmaddwd with `minPairs`). One accumulator
        /// for both terms (ggml keeps two): four tokens' accumulators fit in registers.
        @inline(__always)
        func accumulate(_ sum: SIMD8<Int32>, activation ab: UnsafeRawPointer, into acc: inout SIMD8<Float>) {
            let minTerms = AVX2Lanes.madd(AVX2Lanes.load(ab + Q8_KFormat.bsumsOffset), minPairs)
            let da = Q8_KFormat.scale(ab)
            let (d, dmin) = AVX2Lanes.halves2(block)
            acc.addProduct(AVX2Lanes.float(sum), SIMD8<Float>(repeating: d * da))
            acc.addProduct(AVX2Lanes.float(minTerms), SIMD8<Float>(repeating: -(dmin * da)))
        }

        #if CTXBENCH_AVX512
        /// The same in one conversion and one FMA per token: the sum's halves added (8 lanes) beside
        /// the 8 min terms, times [d x 8 | -dmin x 8] (built once per block) times d_a.
        @inline(__always)
        func accumulate(_ sum: SIMD16<Int32>, activation ab: UnsafeRawPointer, into acc: inout SIMD16<Float>) {
            let minTerms = AVX2Lanes.madd(AVX2Lanes.load(ab + Q8_KFormat.bsumsOffset), minPairs)
            let (d, dmin) = AVX2Lanes.halves2(block)
            let steps = SIMD16<Float>(lowHalf: SIMD8(repeating: d), highHalf: SIMD8(repeating: -dmin))
            let terms = SIMD16<Int32>(lowHalf: sum.lowHalf &+ sum.highHalf, highHalf: minTerms)
            acc.addProduct(AVX512Lanes.float(terms), steps * Q8_KFormat.scale(ab))
        }
        #endif
    }
    #endif

    /// d_w*d_a * Σ_j scale_j Σ q*a  -  dmin_w*d_a * Σ_j min_j * (Σ a over sub-block j, from bsums).
    /// Portable scalar loops (LLVM vectorizes the 32-wide sums).
    public static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        dotPortable(w, a, count: count, blockBytes: blockBytes, qsOffset: qsOffset, fifthBitsOffset: nil)
    }

    /// Shared with q5_K, whose fifth bits (bit j of qh byte l: value l of sub-block j) sit at
    /// `fifthBitsOffset`.
    @inline(__always)
    static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int, blockBytes: Int, qsOffset: Int,
                            fifthBitsOffset: Int?) -> Float {
        var total: Float = 0
        for b in 0..<(count / 256) {
            let wb = w + b &* blockBytes
            let ab = a + b &* Q8_KFormat.blockBytes
            Prefetch.ahead(wb, bytes: blockBytes)
            let scales = (wb + scalesOffset).assumingMemoryBound(to: UInt8.self)
            let qs = (wb + qsOffset).assumingMemoryBound(to: UInt8.self)
            let qh = fifthBitsOffset.map { (wb + $0).assumingMemoryBound(to: UInt8.self) }
            let qa = (ab + Q8_KFormat.qsOffset).assumingMemoryBound(to: Int8.self)
            var sumScaled: Int32 = 0
            var sumMins: Int32 = 0
            for g in 0..<4 {
                let (s0, m0) = scaleMin(scales, 2 &* g)
                let (s1, m1) = scaleMin(scales, 2 &* g &+ 1)
                let q = qs + g &* 32
                let a0 = qa + g &* 64
                let b0 = UInt8(2 &* g), b1 = UInt8(2 &* g &+ 1)
                var lo: Int32 = 0, hi: Int32 = 0
                for l in 0..<32 {
                    let h = qh?[l] ?? 0
                    lo &+= Int32((q[l] & 0x0F) | (((h >> b0) & 1) << 4)) &* Int32(a0[l])
                    hi &+= Int32((q[l] >> 4) | (((h >> b1) & 1) << 4)) &* Int32(a0[l &+ 32])
                }
                sumScaled &+= s0 &* lo &+ s1 &* hi
                sumMins &+= m0 &* (Q8_KFormat.bsum(ab, 4 &* g) &+ Q8_KFormat.bsum(ab, 4 &* g &+ 1))
                sumMins &+= m1 &* (Q8_KFormat.bsum(ab, 4 &* g &+ 2) &+ Q8_KFormat.bsum(ab, 4 &* g &+ 3))
            }
            let da = Q8_KFormat.scale(ab)
            total += wb.f16(at: 0) * da * Float(sumScaled) - wb.f16(at: 2) * da * Float(sumMins)
        }
        return total
    }
}

/// Least-squares affine fits used by the K-quant quantizers.
enum AffineFit {
    /// x ≈ scale * q + offset with q in 0...levels and offset <= 0, minimizing squared error.
    static func best(_ x: UnsafePointer<Float>, count: Int, levels: Int) -> (scale: Float, offset: Float) {
        var lo: Float = 0, hi: Float = -.infinity
        for i in 0..<count {
            let v = x[i].isFinite ? x[i] : 0
            lo = min(lo, v)
            hi = max(hi, v)
        }
        if hi <= lo { return (0, lo) }
        let n = Float(levels)
        var best = (scale: (hi - lo) / n, offset: lo)
        var bestError = error(x, count: count, levels: levels, scale: best.scale, offset: best.offset)
        // Grid of starting scales around (hi - lo) / levels, each refined once by least squares.
        for step in -6...8 {
            let start = (hi - lo) / (n + Float(step) * 0.1)
            let refined = refine(x, count: count, levels: levels, scale: start, offset: lo)
            let e = error(x, count: count, levels: levels, scale: refined.scale, offset: refined.offset)
            if e < bestError {
                bestError = e
                best = refined
            }
        }
        return best
    }

    @inline(__always)
    static func level(_ v: Float, _ scale: Float, _ offset: Float, _ levels: Int) -> Float {
        min(Float(levels), max(0, ((v - offset) / scale).rounded()))
    }

    static func refine(_ x: UnsafePointer<Float>, count: Int, levels: Int, scale: Float, offset: Float) -> (scale: Float, offset: Float) {
        var sl: Float = 0, sl2: Float = 0, sx: Float = 0, sxl: Float = 0
        for i in 0..<count {
            let v = x[i].isFinite ? x[i] : 0
            let l = level(v, scale, offset, levels)
            sl += l; sl2 += l * l; sx += v; sxl += v * l
        }
        let n = Float(count)
        let det = n * sl2 - sl * sl
        guard det > 0 else { return (scale, offset) }
        var newScale = (n * sxl - sl * sx) / det
        var newOffset = (sl2 * sx - sl * sxl) / det
        if newOffset > 0 {
            newOffset = 0
            newScale = sl2 > 0 ? sxl / sl2 : scale
        }
        return newScale > 0 ? (newScale, newOffset) : (scale, offset)
    }

    static func error(_ x: UnsafePointer<Float>, count: Int, levels: Int, scale: Float, offset: Float) -> Float {
        var e: Float = 0
        for i in 0..<count {
            let v = x[i].isFinite ? x[i] : 0
            let r = v - (scale * level(v, scale, offset, levels) + offset)
            e += r * r
        }
        return e
    }
}

#if CTXBENCH_AVX2
extension Q4_KFormat: IntegerGEMMFormat {
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
