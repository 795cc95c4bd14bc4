/// ggml GGML_TYPE_Q8_0: blocks of 32 values.
///
///     offset 0   f16   d        scale: max|x| / 127
///     offset 2   i8    qs[32]   x ≈ d * qs[i]
///     34 bytes (8.5 bits per value)
///
/// Also the activation format q8_0 and q4_0 weights are dotted with.
public enum Q8_0Format: TwoPathDotFormat {
    public static let type = DType.q8_0
    public static let blockValues = 32
    public static let blockBytes = 34
    public static let activationType = DType.q8_0
    static let qsOffset = 2

    /// quantize_row_q8_0_ref: d = amax / 127, q = round-half-away(x / d).
    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<(count / 32) {
            let src = x + b &* 32
            let block = out + b &* blockBytes
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(src[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            block.storeF16(d, at: 0)
            let qs = (block + qsOffset).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { qs[j] = roundToInt8(src[j] * id) }
        }
    }

    /// Synthetic weights straight into blocks: uniform int8 levels, d = std * sqrt(3) / 128.
    public static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float,
                                  random: inout SeededRandom) {
        for b in 0..<(count / 32) {
            let block = out + b &* blockBytes
            block.storeF16(std * 1.732 / 128, at: 0)
            random.fillBytes(block + qsOffset, count: 32)
        }
    }

    public static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let block = q + b &* blockBytes
            let d = block.f16(at: 0)
            let qs = (block + qsOffset).assumingMemoryBound(to: Int8.self)
            let o = out + b &* 32
            for j in 0..<32 { o[j] = d * Float(qs[j]) }
        }
    }

    #if CTXBENCH_AVX2
    public static func dotAVX2(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        dotAgainstQ8_0AVX2(Q8_0Format.self, w, a, count: count)
    }

    /// The dot product of any 32-value block format with an f16 scale at offset 0 (q8_0, q4_0)
    /// against q8_0 activations; `Levels.avx2Levels` turns one weight block into its 32 signed byte
    /// levels. Generic rather than a closure so that it is specialized and inlined per format
    /// (a closure stayed an outlined call: measured 2x slower for q4_0).
    /// Eight blocks at a time: their 16 scales converted in two vcvtph2ps, then per block
    /// vpabsb/vpsignb + vpmaddubsw + vpmaddwd, and one FMA with that block's combined scale.
    @inline(__always)
    static func dotAgainstQ8_0AVX2<Levels: Q8_0PairedAVX2>(_ format: Levels.Type, _ w: UnsafeRawPointer,
                                                          _ a: UnsafeRawPointer, count: Int) -> Float {
        let weightBlockBytes = Levels.blockBytes
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        @inline(__always) func blockDot(_ wb: UnsafeRawPointer, _ ab: UnsafeRawPointer) -> SIMD8<Int32> {
            AVX2Lanes.dotSigned(Levels.avx2Levels(wb), AVX2Lanes.load(ab + qsOffset))
        }
        let blocks = count / 32
        var b = 0
        while b &+ 8 <= blocks {
            let wg = w + b &* weightBlockBytes, ag = a + b &* blockBytes
            Prefetch.ahead(wg, bytes: 8 &* weightBlockBytes)
            let scales = AVX2Lanes.halves8(wg, stride: weightBlockBytes) * AVX2Lanes.halves8(ag, stride: blockBytes)
            for j in stride(from: 0, to: 8, by: 2) {
                let w0 = wg + j &* weightBlockBytes, a0 = ag + j &* blockBytes
                let p0 = blockDot(w0, a0), p1 = blockDot(w0 + weightBlockBytes, a0 + blockBytes)
                acc0.addProduct(AVX2Lanes.float(p0), SIMD8<Float>(repeating: scales[j]))
                acc1.addProduct(AVX2Lanes.float(p1), SIMD8<Float>(repeating: scales[j &+ 1]))
            }
            b &+= 8
        }
        while b < blocks {
            let w0 = w + b &* weightBlockBytes, a0 = a + b &* blockBytes
            let p0 = blockDot(w0, a0)
            acc0.addProduct(AVX2Lanes.float(p0), SIMD8<Float>(repeating: AVX2Lanes.half(w0, 0) * AVX2Lanes.half(a0, 0)))
            b &+= 1
        }
        return (acc0 + acc1).sum()
    }

    @inline(__always)
    static func avx2Levels(_ block: UnsafeRawPointer) -> AVX2Lanes.V { AVX2Lanes.load(block + qsOffset) }
    #endif

    /// Σ over blocks of d_w * d_a * Σ qw*qa, accumulated in 8 float lanes (no per-block horizontal sum).
    /// Portable SIMD (any ISA): even/odd byte lanes, 22 vector instructions per block.
    public static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<(count / 32) {
            let wb = w + b &* blockBytes
            let ab = a + b &* blockBytes
            Prefetch.ahead(wb, bytes: blockBytes)
            let sums = Int8Lanes.dot32(Int8Lanes.evenOdd(wb + qsOffset), Int8Lanes.evenOdd(ab + qsOffset))
            acc.addProduct(SIMD8<Float>(sums), SIMD8<Float>(repeating: wb.f16(at: 0) * ab.f16(at: 0)))
        }
        return acc.sum()
    }
}

#if CTXBENCH_AVX2
/// A 32-value block format whose AVX2 dot pairs with q8_0: an f16 scale at offset 0 and 32 levels.
protocol Q8_0PairedAVX2: WeightFormat {
    static func avx2Levels(_ block: UnsafeRawPointer) -> AVX2Lanes.V
}

extension Q8_0Format: Q8_0PairedAVX2 {}
extension Q4_0Format: Q8_0PairedAVX2 {}
#endif
