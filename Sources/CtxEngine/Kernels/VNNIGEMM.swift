#if CTXBENCH_VNNI
import CX86Intrinsics

/// Prefill's product on CPUs with AVX-512 VNNI for the weight formats whose values are levels in
/// 32-value sub-blocks (`VNNIWeightFormat`: q8_0, q4_0 and q5_0, dotted with q8_0 activations; q4_K
/// and q5_K, dotted with q8_K): Y (tokens, rows) = X (tokens, cols) · Wᵀ in integer dot products,
/// as llama.cpp computes it: each token's row quantized once per call to the activation type (the
/// GEMV's quantizer, so the same bytes), each weight sub-block's 32 levels times the activation's,
/// summed exactly in int32, then scaled in float: by d_w * d_a (q8_0 family), or by the sub-block's
/// step d * scale_j times d_a plus its offset -dmin * min_j times d_a * Σ a (K-quants).
///
/// Why a layout of its own: vpdpbusd sums 4 u8 x s8 products into each of 8 int32 lanes. With the
/// lanes running along K (the GEMV's layout), every block of every (row, token) pair needs a lane
/// reduction and its own float step, as many instructions as the f32 FMAs it replaces. So the
/// weights are repacked per call, 8 rows at a time, with lane r holding row r: per 32-value block,
/// eight vectors of [4 levels of rows 0...7], and the block's eight scales as floats. One vpdpbusd
/// then takes 4 values of 8 rows against one broadcast 4-byte group of a token; 8 of them finish the
/// block for 8 rows, and one conversion and one FMA scale all 8 (256 multiply-adds in 11
/// instructions, against 32 FMAs on the dequantized f32 path).
///
/// Signs: vpdpbusd's first operand is unsigned. K-quant levels are (0...31); the q8_0 family's are
/// signed and stored + 128 (u = q + 128), and as Σ u a = Σ q a + 128 Σ a each int32 sum starts from
/// -128 Σ a of its token's block, stored with the activation, so it is exact: |Σ q a| <= 32 * 128 * 127.
///
/// Blocking: rows go in panels of `groupsPerPanel` groups of 8 (32 rows, 36 KB of packed weights
/// per 1K columns per group, in L2), shared out dynamically; each thread packs its panel once, then
/// every tile of 8 tokens (their blocks interleaved, 320 bytes per block) passes over its groups.
/// Tokens are padded to a multiple of 8 with zero rows (scale 0).
///
/// Every output is, over the sub-blocks in order, acc = fma(Float(S_j), step * d_a, acc) (then, for
/// the K-quants, acc = fma(offset, d_a * Σ a, acc)): the same for a token whichever tile it is in
/// (tested against a scalar model of that sum). Not the GEMV's arithmetic for the K-quants (their
/// GEMV sums a super-block's sub-blocks in int32 first), so a K-quant prefill and a decode step of
/// the same token agree to rounding here, where `IntegerGEMM` (the build without VNNI, and q6_K,
/// whose 16-value sub-blocks this layout does not take) gives them bit for bit.
enum VNNIGEMM {
    static let rowsPerGroup = 8
    static let groupsPerPanel = 4
    static let tokensPerTile = 8
    /// Bytes of one packed weight sub-block: 8 vectors of 32 bytes (4 levels x 8 rows), the 8 rows'
    /// steps and offsets as floats.
    static let weightBlockBytes = 8 * 32 + 32 + 32
    static let weightStepsOffset = 256, weightOffsetsOffset = 288
    /// Bytes of one activation sub-block of a token tile: 8 tokens x 32 levels, then per token its
    /// scale d_a (f32), its sum's starting value (int32: -128 x Σ levels, or 0) and d_a x Σ levels
    /// (f32, for the offsets).
    static let activationBlockBytes = 8 * 32 + 3 * 32
    static let scaleOffset = 256, startOffset = 288, levelSumOffset = 320

    /// `multiply` for the formats it takes, each through its own specialization; false for the
    /// others. Why a switch: called with an existential format type, `multiply` and `packWeights`
    /// stay generic, and every sub-block's `vnniSubBlock` is a witness-table call that cannot be
    /// inlined into the packing loop. The packing runs once per call over the whole matrix, so for
    /// an expert's few tokens it, not the microkernel, sets the speed.
    static func multiplyIfSupported(_ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>,
                                    pool: ThreadPool, scratch: MatMulScratch) -> Bool {
        switch w.type {
        case .q8_0: multiply(Q8_0Format.self, w, x, tokens: tokens, y, pool: pool, scratch: scratch)
        case .q4_0: multiply(Q4_0Format.self, w, x, tokens: tokens, y, pool: pool, scratch: scratch)
        case .q5_0: multiply(Q5_0Format.self, w, x, tokens: tokens, y, pool: pool, scratch: scratch)
        case .q4_K: multiply(Q4_KFormat.self, w, x, tokens: tokens, y, pool: pool, scratch: scratch)
        case .q5_K: multiply(Q5_KFormat.self, w, x, tokens: tokens, y, pool: pool, scratch: scratch)
        default: return false
        }
        return true
    }

    static func multiply<F: VNNIWeightFormat>(_ format: F.Type, _ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int,
                                              _ y: UnsafeMutablePointer<Float>, pool: ThreadPool, scratch: MatMulScratch) {
        let k = w.cols
        let blocks = k / 32
        let tiles = (tokens + tokensPerTile - 1) / tokensPerTile
        let tileBytes = blocks * activationBlockBytes
        let activations = scratch.packedInputBytes(tiles * tileBytes)
        let activation = F.activationType
        pool.parallelFor(tiles) { range, _ in
            withUnsafeTemporaryAllocation(byteCount: activation.rowBytes(k), alignment: 64) { row in
                for tile in range {
                    prepareActivations(activation, x, tokens: tokens, cols: k, tile: tile, row: row.baseAddress!,
                                       into: activations + tile * tileBytes)
                }
            }
        }
        let groupBytes = blocks * weightBlockBytes
        let panelBytes = groupsPerPanel * groupBytes
        let panels = (w.rows + groupsPerPanel * rowsPerGroup - 1) / (groupsPerPanel * rowsPerGroup)
        scratch.reservePanels(floats: panelBytes / 4)
        pool.parallelFor(panels, schedule: .dynamic(chunk: 1)) { range, thread in
            let packed = UnsafeMutableRawPointer(scratch.panelBuffer(thread: thread, floats: panelBytes / 4))
            for panel in range {
                let firstRow = panel * groupsPerPanel * rowsPerGroup
                let groups = min(groupsPerPanel, (w.rows - firstRow + rowsPerGroup - 1) / rowsPerGroup)
                for g in 0..<groups {
                    packWeights(format, w, firstRow: firstRow + g * rowsPerGroup, into: packed + g * groupBytes)
                }
                for tile in 0..<tiles {
                    let a = UnsafeRawPointer(activations + tile * tileBytes)
                    let tileTokens = min(tokensPerTile, tokens - tile * tokensPerTile)
                    for g in 0..<groups {
                        let r0 = firstRow + g * rowsPerGroup
                        let wp = UnsafeRawPointer(packed + g * groupBytes)
                        let sums = F.hasOffsets ? microkernelWithOffsets(wp, a, blocks: blocks) : microkernel(wp, a, blocks: blocks)
                        let rows = min(rowsPerGroup, w.rows - r0)
                        let out = y + tile * tokensPerTile * w.rows + r0
                        withUnsafeBytes(of: sums) { raw in
                            let v = raw.bindMemory(to: SIMD8<Float>.self)
                            for t in 0..<tileTokens {
                                if rows == rowsPerGroup {
                                    UnsafeMutableRawPointer(out + t * w.rows).storeBytes(of: v[t], as: SIMD8<Float>.self)
                                } else {
                                    for r in 0..<rows { out[t * w.rows + r] = v[t][r] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Tokens tile * 8 ..< tile * 8 + 8 of x (zero past `tokens`) quantized to `type` (q8_0 or q8_K)
    /// and laid out per 32-value sub-block: [8 tokens][32 levels], then per token d_a, the starting
    /// sum (q8_0: -128 x Σ levels, for the + 128 weights; q8_K: 0) and d_a x Σ levels.
    static func prepareActivations(_ type: DType, _ x: UnsafePointer<Float>, tokens: Int, cols: Int, tile: Int,
                                   row: UnsafeMutableRawPointer, into out: UnsafeMutableRawPointer) {
        let blocks = cols / 32
        let q8_0 = type == .q8_0
        precondition(q8_0 || type == .q8_K, "VNNIGEMM takes q8_0 or q8_K activations, not \(type)")
        for t in 0..<tokensPerTile {
            let token = tile * tokensPerTile + t
            if token < tokens { type.format.quantize(x + token * cols, row, count: cols) }
            for j in 0..<blocks {
                let dst = out + j * activationBlockBytes
                var levels = SIMD32<Int8>(), scale: Float = 0, sum: Int32 = 0
                if token < tokens && q8_0 {
                    let src = row + j * Q8_0Format.blockBytes
                    levels = src.loadUnaligned(fromByteOffset: Q8_0Format.qsOffset, as: SIMD32<Int8>.self)
                    scale = UnsafeRawPointer(src).f16(at: 0)
                    for i in 0..<32 { sum &+= Int32(levels[i]) }
                } else if token < tokens {
                    // Sub-block j % 8 of block j / 8: the block's scale, the sum of its two 16-value bsums.
                    let src = row + j / 8 * Q8_KFormat.blockBytes, s = j % 8
                    levels = src.loadUnaligned(fromByteOffset: Q8_KFormat.qsOffset + s * 32, as: SIMD32<Int8>.self)
                    scale = Q8_KFormat.scale(src)
                    sum = Q8_KFormat.bsum(src, 2 * s) + Q8_KFormat.bsum(src, 2 * s + 1)
                }
                dst.storeBytes(of: levels, toByteOffset: t * 32, as: SIMD32<Int8>.self)
                dst.storeBytes(of: scale, toByteOffset: scaleOffset + 4 * t, as: Float.self)
                dst.storeBytes(of: q8_0 ? -128 &* sum : 0, toByteOffset: startOffset + 4 * t, as: Int32.self)
                dst.storeBytes(of: scale * Float(sum), toByteOffset: levelSumOffset + 4 * t, as: Float.self)
            }
        }
    }

    /// Rows firstRow ..< firstRow + 8 (zero steps past the matrix) -> per 32-value sub-block: vector
    /// j (32 bytes) = unsigned levels 4j ..< 4j + 4 of rows 0...7, then the 8 rows' steps and offsets.
    /// Per sub-block the 8 rows' levels (8 words each) are gathered and transposed as an 8 x 8 block
    /// of words (24 shuffles, not 64 scalar stores).
    static func packWeights<F: VNNIWeightFormat>(_ format: F.Type, _ w: Tensor, firstRow: Int,
                                                 into out: UnsafeMutableRawPointer) {
        let subBlocks = F.blockValues / 32
        withUnsafeTemporaryAllocation(of: SIMD8<UInt32>.self, capacity: rowsPerGroup) { gathered in
            for b in 0..<(w.cols / F.blockValues) {
                for j in 0..<subBlocks {
                    let dst = out + (b * subBlocks + j) * weightBlockBytes
                    for r in 0..<rowsPerGroup {
                        var part = (levels: SIMD8<UInt32>(), step: Float(0), offset: Float(0))
                        if firstRow + r < w.rows { part = F.vnniSubBlock(w.row(firstRow + r) + b * F.blockBytes, j) }
                        gathered[r] = part.levels
                        dst.storeBytes(of: part.step, toByteOffset: weightStepsOffset + 4 * r, as: Float.self)
                        dst.storeBytes(of: part.offset, toByteOffset: weightOffsetsOffset + 4 * r, as: Float.self)
                    }
                    // Words as floats: the transpose only moves them.
                    AVX2Lanes.transpose8x8(UnsafeRawPointer(gathered.baseAddress!).assumingMemoryBound(to: Float.self), srcStride: 8,
                                           dst.assumingMemoryBound(to: Float.self), dstStride: 8)
                }
            }
        }
    }

    typealias Sums = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                      SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// One packed group of 8 rows times one tile of 8 tokens over all `blocks` sub-blocks: result
    /// t, lane r = row r's dot with token t. Per sub-block: the 8 weight vectors and the steps loaded
    /// once; per token an int32 sum from its starting value, 8 vpdpbusd with the token's 4-byte
    /// groups broadcast, then acc_t += Float(sum) * (step * d_a). Not inlined: one call per group
    /// and tile runs all of K, and as symbols of their own scripts/check-kernel-calls reads them.
    @inline(never)
    static func microkernel(_ wp: UnsafeRawPointer, _ ap: UnsafeRawPointer, blocks: Int) -> Sums {
        tile(wp, ap, blocks: blocks, offsets: false)
    }

    /// `microkernel` for the K-quants: then acc_t += offset * (d_a * Σ a).
    @inline(never)
    static func microkernelWithOffsets(_ wp: UnsafeRawPointer, _ ap: UnsafeRawPointer, blocks: Int) -> Sums {
        tile(wp, ap, blocks: blocks, offsets: true)
    }

    @inline(__always)
    static func tile(_ wp: UnsafeRawPointer, _ ap: UnsafeRawPointer, blocks: Int, offsets: Bool) -> Sums {
        typealias V = AVX2Lanes.V
        var acc: Sums = (.zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero)
        for b in 0..<blocks {
            let wb = wp + b &* weightBlockBytes, ab = ap + b &* activationBlockBytes
            let w0 = AVX2Lanes.load(wb), w1 = AVX2Lanes.load(wb + 32), w2 = AVX2Lanes.load(wb + 64)
            let w3 = AVX2Lanes.load(wb + 96), w4 = AVX2Lanes.load(wb + 128), w5 = AVX2Lanes.load(wb + 160)
            let w6 = AVX2Lanes.load(wb + 192), w7 = AVX2Lanes.load(wb + 224)
            let steps = wb.loadUnaligned(fromByteOffset: weightStepsOffset, as: SIMD8<Float>.self)
            @inline(__always) func token(_ t: Int, _ acc: inout SIMD8<Float>) {
                let a = ab + t &* 32
                @inline(__always) func group(_ j: Int) -> V {
                    unsafeBitCast(SIMD8<UInt32>(repeating: a.loadUnaligned(fromByteOffset: 4 &* j, as: UInt32.self)), to: V.self)
                }
                var s = unsafeBitCast(SIMD8<Int32>(repeating: ab.loadUnaligned(fromByteOffset: startOffset &+ 4 &* t, as: Int32.self)),
                                      to: V.self)
                s = ctx_dpbusd_epi32(s, w0, group(0)); s = ctx_dpbusd_epi32(s, w1, group(1))
                s = ctx_dpbusd_epi32(s, w2, group(2)); s = ctx_dpbusd_epi32(s, w3, group(3))
                s = ctx_dpbusd_epi32(s, w4, group(4)); s = ctx_dpbusd_epi32(s, w5, group(5))
                s = ctx_dpbusd_epi32(s, w6, group(6)); s = ctx_dpbusd_epi32(s, w7, group(7))
                let da = ab.loadUnaligned(fromByteOffset: scaleOffset &+ 4 &* t, as: Float.self)
                acc.addProduct(AVX2Lanes.float(AVX2Lanes.int32(s)), steps * SIMD8<Float>(repeating: da))
                if offsets {
                    let levelSum = ab.loadUnaligned(fromByteOffset: levelSumOffset &+ 4 &* t, as: Float.self)
                    acc.addProduct(wb.loadUnaligned(fromByteOffset: weightOffsetsOffset, as: SIMD8<Float>.self),
                                   SIMD8<Float>(repeating: levelSum))
                }
            }
            token(0, &acc.0); token(1, &acc.1); token(2, &acc.2); token(3, &acc.3)
            token(4, &acc.4); token(5, &acc.5); token(6, &acc.6); token(7, &acc.7)
        }
        return acc
    }
}

/// A weight format `VNNIGEMM` takes: rows of 32-value sub-blocks, each value step * u + offset with
/// u an unsigned level (0...255).
protocol VNNIWeightFormat: WeightFormat {
    /// Sub-block j of the block at `block`: its 32 levels (4 per word, in order), step and offset.
    /// The q8_0 family stores its signed levels + 128 and has no offset: `VNNIGEMM` starts each sum
    /// at -128 x Σ a instead, which keeps the sum exact.
    static func vnniSubBlock(_ block: UnsafeRawPointer, _ j: Int) -> (levels: SIMD8<UInt32>, step: Float, offset: Float)
    /// Whether the offsets are used (the K-quants' mins).
    static var hasOffsets: Bool { get }
}

extension Q8_0PairedAVX2 {
    static func vnniSubBlock(_ block: UnsafeRawPointer, _ j: Int) -> (levels: SIMD8<UInt32>, step: Float, offset: Float) {
        (unsafeBitCast(avx2Levels(block) ^ AVX2Lanes.bytes(0x80), to: SIMD8<UInt32>.self), block.f16(at: 0), 0)
    }
    static var hasOffsets: Bool { false }
}

extension Q8_0Format: VNNIWeightFormat {}
extension Q4_0Format: VNNIWeightFormat {}
extension Q5_0Format: VNNIWeightFormat {}

extension Q4_KFormat: VNNIWeightFormat {
    /// Sub-block j: the low nibbles of bytes 32(j/2)... for even j, the high for odd; step d * scale_j,
    /// offset -dmin * min_j (both exact in f32: an 11-bit mantissa times a 6-bit integer).
    static func vnniSubBlock(_ block: UnsafeRawPointer, _ j: Int) -> (levels: SIMD8<UInt32>, step: Float, offset: Float) {
        let levels = SuperBlockLanes.levels(block, qsOffset: qsOffset, fifthBits: nil, j)
        let (step, offset) = vnniStepAndOffset(block, j)
        return (unsafeBitCast(levels, to: SIMD8<UInt32>.self), step, offset)
    }

    /// Sub-block j's step d * scale_j and offset -dmin * min_j (q4_K and q5_K share the header).
    static func vnniStepAndOffset(_ block: UnsafeRawPointer, _ j: Int) -> (step: Float, offset: Float) {
        let (scale, min) = scaleMin(block.advanced(by: scalesOffset).assumingMemoryBound(to: UInt8.self), j)
        return (block.f16(at: 0) * Float(scale), -(block.f16(at: 2) * Float(min)))
    }
    static var hasOffsets: Bool { true }
}

extension Q5_KFormat: VNNIWeightFormat {
    static func vnniSubBlock(_ block: UnsafeRawPointer, _ j: Int) -> (levels: SIMD8<UInt32>, step: Float, offset: Float) {
        let levels = Q4_KFormat.SuperBlockLanes.levels(block, qsOffset: qsOffset, fifthBits: AVX2Lanes.load(block + qhOffset), j)
        let (step, offset) = Q4_KFormat.vnniStepAndOffset(block, j)
        return (unsafeBitCast(levels, to: SIMD8<UInt32>.self), step, offset)
    }
    static var hasOffsets: Bool { true }
}
#endif
