/// ggml GGML_TYPE_Q6_K: super-blocks of 256 values in 16 sub-blocks of 16.
///
///     offset 0    u8   ql[128]     low 4 bits of each 6-bit value
///     offset 128  u8   qh[64]      high 2 bits, four values per byte
///     offset 192  i8   scales[16]  per-sub-block scale
///     offset 208  f16  d           super-block scale
///     210 bytes (6.5625 bits per value); x ≈ d * scales[j] * (q - 32)
///
/// In each half of 128 values (ql += 64, qh += 32 per half), for l in 0..<32:
/// value l uses ql[l] low nibble and qh[l] bits 0-1; l+32: ql[l+32] low, qh bits 2-3;
/// l+64: ql[l] high nibble, qh bits 4-5; l+96: ql[l+32] high, qh bits 6-7.
/// Dotted with q8_K activations.
public enum Q6_KFormat: TwoPathDotFormat {
    public static let type = DType.q6_K
    public static let blockValues = 256
    public static let blockBytes = 210
    public static let activationType = DType.q8_K
    static let qhOffset = 128
    static let scalesOffset = 192
    static let dOffset = 208

    /// The 6-bit value (0...63) at position `i` of a block.
    @inline(__always)
    static func level(_ ql: UnsafePointer<UInt8>, _ qh: UnsafePointer<UInt8>, _ i: Int) -> Int32 {
        let half = i >> 7, r = i & 127, quarter = r >> 5, l = r & 31
        let low = ql[half &* 64 &+ (quarter & 1) &* 32 &+ l]
        let nibble = quarter < 2 ? low & 0x0F : low >> 4
        let high = (qh[half &* 32 &+ l] >> UInt8(2 &* quarter)) & 3
        return Int32(nibble | (high << 4))
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let block = q + b &* blockBytes
            let d = block.f16(at: dOffset)
            let ql = block.assumingMemoryBound(to: UInt8.self)
            let qh = (block + qhOffset).assumingMemoryBound(to: UInt8.self)
            let sc = (block + scalesOffset).assumingMemoryBound(to: Int8.self)
            for i in 0..<256 {
                out[b &* 256 &+ i] = d * Float(sc[i >> 4]) * Float(level(ql, qh, i) &- 32)
            }
        }
    }

    /// Per sub-block a symmetric scale (the signed extreme maps to -32, refined by least squares),
    /// then the 16 scales quantized to int8 against the largest (iscale = -128 / max), and values
    /// re-quantized with the stored scales.
    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        var levels = [UInt8](repeating: 0, count: 256)
        var subScales = [Float](repeating: 0, count: 16)
        for b in 0..<(count / 256) {
            let src = x + b &* 256
            let block = out + b &* blockBytes
            var maxScale: Float = 0, maxAbs: Float = 0
            for j in 0..<16 {
                let s = symmetricScale(src + j &* 16, count: 16)
                subScales[j] = s
                if abs(s) > maxAbs { maxAbs = abs(s); maxScale = s }
            }
            let sc = (block + scalesOffset).assumingMemoryBound(to: Int8.self)
            if maxAbs == 0 {
                block.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
                continue
            }
            let iscale = -128 / maxScale
            for j in 0..<16 { sc[j] = saturatingInt8(min(127, (iscale * subScales[j]).rounded(.toNearestOrEven))) }
            block.storeF16(1 / iscale, at: dOffset)
            let d = block.f16(at: dOffset)
            for j in 0..<16 {
                let step = d * Float(sc[j])
                for l in 0..<16 {
                    let v = step != 0 ? (src[j * 16 + l] / step).rounded(.toNearestOrEven) : 0
                    levels[j * 16 + l] = UInt8(Int32(min(31, max(-32, v.isNaN ? 0 : v))) + 32)
                }
            }
            let ql = block.assumingMemoryBound(to: UInt8.self)
            let qh = (block + qhOffset).assumingMemoryBound(to: UInt8.self)
            for half in 0..<2 {
                let L = half * 128
                for l in 0..<32 {
                    let q1 = levels[L + l], q2 = levels[L + l + 32], q3 = levels[L + l + 64], q4 = levels[L + l + 96]
                    ql[half * 64 + l] = (q1 & 0x0F) | ((q3 & 0x0F) << 4)
                    ql[half * 64 + l + 32] = (q2 & 0x0F) | ((q4 & 0x0F) << 4)
                    qh[half * 32 + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
                }
            }
        }
    }

    /// Synthetic weights straight into blocks: uniform 6-bit levels, int8 sub-block scales 32...127,
    /// std ≈ `std` (levels - 32 have std 18.5).
    public static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float,
                                  random: inout SeededRandom) {
        let d = std / (18.5 * 79.5)
        for b in 0..<(count / 256) {
            let block = out + b &* blockBytes
            random.fillBytes(block, count: scalesOffset)  // ql and qh
            let sc = (block + scalesOffset).assumingMemoryBound(to: Int8.self)
            let bits = random.next()
            for j in 0..<16 { sc[j] = Int8(32 + Int((bits >> UInt64(4 * j)) & 15) * 6) }
            block.storeF16(d, at: dOffset)
        }
    }

    /// Scale s for x ≈ s * q, q in -32...31, starting from extreme / -32 and refined by least squares.
    static func symmetricScale(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var amax: Float = 0, extreme: Float = 0
        for i in 0..<count where x[i].isFinite && abs(x[i]) > amax {
            amax = abs(x[i])
            extreme = x[i]
        }
        if amax == 0 { return 0 }
        var best = extreme / -32
        var bestError = Float.infinity
        for step in -4...4 {
            let start = extreme / (-32 + Float(step) * 0.25)
            var sxl: Float = 0, sl2: Float = 0, e: Float = 0
            for i in 0..<count {
                let v = x[i].isFinite ? x[i] : 0
                let l = min(31, max(-32, (v / start).rounded()))
                sxl += v * l; sl2 += l * l
            }
            let refined = sl2 > 0 ? sxl / sl2 : start
            for i in 0..<count {
                let v = x[i].isFinite ? x[i] : 0
                let l = min(31, max(-32, (v / refined).rounded()))
                e += (v - refined * l) * (v - refined * l)
            }
            if e < bestError { bestError = e; best = refined }
        }
        return best
    }

    #if CTXBENCH_AVX2
    /// The 6-bit levels (0...63) rebuilt as bytes with 16-bit shifts and one mask per part (bits that
    /// a 16-bit shift carries across bytes land outside the mask), vpmaddubsw'd with the activations
    /// and vpmaddwd'd with the sub-block scales. The 16 scales are sign-extended once per block;
    /// each [scale j x 8 | scale j+1 x 8] multiplier is one vpshufb of them (not two scalar
    /// loads and broadcasts). The -32 offset is 32 * Σ_j scale_j * bsum_j: one vpmaddwd of the
    /// same scales with q8_K's 16 sums, subtracted in int32 (exact) before the one float step.
    public static func dotAVX2(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        KQuantDot.dot(w, a, count: count, blockBytes: blockBytes, lanes: SuperBlockLanes.init)
    }

    /// One q6_K super-block's weight side: its 16 scales sign-extended to int16 ([s0..s7 | s8..s15]).
    struct SuperBlockLanes: KQuantSuperBlockLanes {
        let block: UnsafeRawPointer
        let scales: AVX2Lanes.V

        @inline(__always) init(_ block: UnsafeRawPointer) {
            self.block = block
            scales = AVX2Lanes.int16FromInt8(block + scalesOffset)
        }

        /// Part p (0..<8) of the block: its 32 levels as bytes, for activations 32p..<32p+32, and
        /// their scale multiplier [scale 2p x 8 | scale 2p+1 x 8]. In half h = p / 4, part i = p % 4
        /// holds values l + 32i (l < 32): the low (i = 0, 1) or high (i = 2, 3) nibbles of ql
        /// bytes l + 32(i % 2), with bits 2i, 2i+1 of qh byte l on top. Callers pass p as a constant.
        @inline(__always) func part(_ p: Int) -> (values: AVX2Lanes.V, scale: AVX2Lanes.V) {
            let h = p &>> 2, i = p & 3
            let ofHalf = h == 0 ? AVX2Lanes.V(lowHalf: scales.lowHalf, highHalf: scales.lowHalf)
                                : AVX2Lanes.V(lowHalf: scales.highHalf, highHalf: scales.highHalf)
            return (Self.levels(block, p), AVX2Lanes.shuffleBytes(ofHalf, AVX2Lanes.wordSplatControl(2 &* i, 2 &* i &+ 1)))
        }

        /// Part p's 32 levels (0...63) as bytes.
        @inline(__always) static func levels(_ block: UnsafeRawPointer, _ p: Int) -> AVX2Lanes.V {
            let h = p &>> 2, i = p & 3
            let ql = AVX2Lanes.load(block + (h &* 64 &+ (i & 1) &* 32))
            let qh = AVX2Lanes.load(block + (qhOffset &+ h &* 32))
            let low = AVX2Lanes.shiftRight16(ql, UInt16((i &>> 1) &* 4)) & AVX2Lanes.bytes(0x0F)
            // Bits 2i, 2i+1 of each qh byte moved to bits 4, 5.
            let high = i < 2 ? AVX2Lanes.shiftLeft16(qh, UInt16(4 &- 2 &* i)) : AVX2Lanes.shiftRight16(qh, UInt16(2 &* i &- 4))
            return low | (high & AVX2Lanes.bytes(0x30))
        }

        /// acc += d * d_a * (sum - 32 * Σ_j scale_j * bsum_j), the offset term in int32 (|sum| <
        /// 256 * 63 * 127 * 128 and the offset < 32 * 16 * 128 * 2048: no overflow).
        @inline(__always)
        func accumulate(_ sum: SIMD8<Int32>, activation ab: UnsafeRawPointer, into acc: inout SIMD8<Float>) {
            let offsets = AVX2Lanes.madd(scales, AVX2Lanes.load(ab + Q8_KFormat.bsumsOffset))
            let scale = SIMD8<Float>(repeating: AVX2Lanes.half(block, dOffset) * Q8_KFormat.scale(ab))
            acc.addProduct(AVX2Lanes.float(sum &- (offsets &<< 5)), scale)
        }

        #if CTXBENCH_AVX512
        /// The same on 16 lanes, the offset term subtracted in the low 8.
        @inline(__always)
        func accumulate(_ sum: SIMD16<Int32>, activation ab: UnsafeRawPointer, into acc: inout SIMD16<Float>) {
            let offsets = AVX2Lanes.madd(scales, AVX2Lanes.load(ab + Q8_KFormat.bsumsOffset))
            let scale = SIMD16<Float>(repeating: AVX2Lanes.half(block, dOffset) * Q8_KFormat.scale(ab))
            acc.addProduct(AVX512Lanes.float(sum &- SIMD16(lowHalf: offsets &<< 5, highHalf: .zero)), scale)
        }
        #endif
    }
    #endif

    /// d_w * d_a * Σ_j scale_j * Σ (q - 32) * a, in two halves of 128 with 16-wide scale groups.
    /// Portable scalar loops.
    public static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for b in 0..<(count / 256) {
            let wb = w + b &* blockBytes
            let ab = a + b &* Q8_KFormat.blockBytes
            Prefetch.ahead(wb, bytes: blockBytes)
            let qa = (ab + Q8_KFormat.qsOffset).assumingMemoryBound(to: Int8.self)
            let sc = (wb + scalesOffset).assumingMemoryBound(to: Int8.self)
            var sum: Int32 = 0
            for half in 0..<2 {
                let ql = (wb + half &* 64).assumingMemoryBound(to: UInt8.self)
                let qh = (wb + (qhOffset &+ half &* 32)).assumingMemoryBound(to: UInt8.self)
                let a = qa + half &* 128
                let s = sc + half &* 8
                for group in 0..<2 {
                    var s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0, s4: Int32 = 0
                    for i in 0..<16 {
                        let l = group &* 16 &+ i
                        let h = qh[l]
                        let q1 = Int32((ql[l] & 0x0F) | ((h & 3) << 4)) &- 32
                        let q2 = Int32((ql[l &+ 32] & 0x0F) | (((h >> 2) & 3) << 4)) &- 32
                        let q3 = Int32((ql[l] >> 4) | (((h >> 4) & 3) << 4)) &- 32
                        let q4 = Int32((ql[l &+ 32] >> 4) | (((h >> 6) & 3) << 4)) &- 32
                        s1 &+= q1 &* Int32(a[l]); s2 &+= q2 &* Int32(a[l &+ 32])
                        s3 &+= q3 &* Int32(a[l &+ 64]); s4 &+= q4 &* Int32(a[l &+ 96])
                    }
                    sum &+= Int32(s[group]) &* s1 &+ Int32(s[group &+ 2]) &* s2
                    sum &+= Int32(s[group &+ 4]) &* s3 &+ Int32(s[group &+ 6]) &* s4
                }
            }
            total += wb.f16(at: dOffset) * Q8_KFormat.scale(ab) * Float(sum)
        }
        return total
    }
}

#if CTXBENCH_AVX2
extension Q6_KFormat: IntegerGEMMFormat {
    public static func dot4(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int) -> SIMD4<Float> {
        KQuantDot.dot4(w, a, stride: stride, count: count, blockBytes: blockBytes, lanes: SuperBlockLanes.init)
    }
    #if CTXBENCH_AVX512
    public static func dot8(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int) -> SIMD8<Float> {
        KQuantDot.dot8(w, a, stride: stride, count: count, blockBytes: blockBytes, lanes: SuperBlockLanes.init)
    }
    #endif
}
#endif
