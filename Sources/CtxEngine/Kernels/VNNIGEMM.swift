#if CTXBENCH_VNNI
import CX86Intrinsics

/// Prefill's product on CPUs with AVX-512 VNNI for the weight formats whose values are levels in
/// sub-blocks with a step each (`VNNIWeightFormat`: q8_0, q4_0 and q5_0, 32 values to a sub-block,
/// dotted with q8_0 activations; q4_K and q5_K, 32 values, and q6_K, 16, dotted with q8_K):
/// Y (tokens, rows) = X (tokens, cols) · Wᵀ in integer dot products, as llama.cpp computes it: each
/// token's row quantized once per call to the activation type (the GEMV's quantizer, so the same
/// bytes), each weight sub-block's levels times the activation's, summed exactly in int32, then
/// scaled in float: by the sub-block's step (d_w, or d * scale_j for the K-quants) times d_a, plus
/// for q4_K and q5_K its offset -dmin * min_j times d_a * Σ a.
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
/// Signs: vpdpbusd's first operand is unsigned. q4_K and q5_K levels are 0...31 (their offsets carry
/// the mins); the q8_0 family's are signed and stored + 128 (u = q + 128), q6_K's are q + 32
/// (0...63): as Σ u a = Σ q a + bias Σ a, each int32 sum starts from -bias Σ a of its token's
/// sub-block (`vnniLevelBias`), stored with the activation, so it is exact: |Σ q a| <= 32 * 128 * 127.
///
/// Blocking: rows go in panels of `groupsPerPanel` groups of 8 (32 rows, 40 KB of packed weights
/// per 1K columns, 48 KB for q6_K, in L2), shared out dynamically; each thread packs its panel
/// once, then every tile of 8 tokens (their sub-blocks interleaved, `Layout.activationBlockBytes`:
/// 352 bytes per 32 values) passes over its groups.
/// Tokens are padded to a multiple of 8 with zero rows (scale 0).
///
/// q6_K's 16-value sub-blocks take 4 vectors and 4 vpdpbusd per token, the float step per 16
/// values: the same layout with `Layout.values` 16.
///
/// Every output is, over the sub-blocks in order, acc = fma(Float(S_j), step * d_a, acc) (then, for
/// q4_K and q5_K, acc = fma(offset, d_a * Σ a, acc)): the same for a token whichever tile it is in
/// (tested against a scalar model of that sum). Not the GEMV's arithmetic for the K-quants (their
/// GEMV sums a super-block's sub-blocks in int32 first), so a K-quant prefill and a decode step of
/// the same token agree to rounding here, where `IntegerGEMM` (the build without VNNI, and the
/// K-quants below `vnniMinimumTokens`) gives them bit for bit.
enum VNNIGEMM {
    static let rowsPerGroup = 8
    static let groupsPerPanel = 4
    static let tokensPerTile = 8

    /// Where things are in the packed sub-blocks of a format with `values` (32 or 16) values to a
    /// sub-block.
    struct Layout {
        let values: Int
        /// vpdpbusd per token and sub-block: 4 values each.
        var groups: Int { values / 4 }
        /// A packed weight sub-block: `groups` vectors of 32 bytes (4 levels x 8 rows), then the 8
        /// rows' steps and offsets as floats.
        var weightBlockBytes: Int { 8 * values + 64 }
        var weightSteps: Int { 8 * values }
        var weightOffsets: Int { 8 * values + 32 }
        /// An activation sub-block of a token tile: 8 tokens x `values` levels, then per token its
        /// scale d_a (f32), its sum's starting value (int32: -bias x Σ levels) and d_a x Σ levels
        /// (f32, for the offsets).
        var activationBlockBytes: Int { 8 * values + 96 }
        var scale: Int { 8 * values }
        var start: Int { 8 * values + 32 }
        var levelSum: Int { 8 * values + 64 }
    }

    /// `multiply` for the formats it takes, each through its own specialization, from the format's
    /// `vnniMinimumTokens`; false for the others and for fewer tokens. Why a switch: called with an
    /// existential format type, `multiply` and `packWeights` stay generic, and every sub-block's
    /// `vnniLevels` and `vnniStep` are witness-table calls that cannot be inlined into the packing
    /// loop. The packing runs once per call over the whole matrix, so for an expert's few tokens
    /// it, not the microkernel, sets the speed.
    static func multiplyIfSupported(_ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>,
                                    pool: ThreadPool, scratch: MatMulScratch) -> Bool {
        func run<F: VNNIWeightFormat>(_ format: F.Type) -> Bool {
            guard tokens >= F.vnniMinimumTokens else { return false }
            multiply(format, w, x, tokens: tokens, y, pool: pool, scratch: scratch)
            return true
        }
        switch w.type {
        case .q8_0: return run(Q8_0Format.self)
        case .q4_0: return run(Q4_0Format.self)
        case .q5_0: return run(Q5_0Format.self)
        case .q4_K: return run(Q4_KFormat.self)
        case .q5_K: return run(Q5_KFormat.self)
        case .q6_K: return run(Q6_KFormat.self)
        default: return false
        }
    }

    static func multiply<F: VNNIWeightFormat>(_ format: F.Type, _ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int,
                                              _ y: UnsafeMutablePointer<Float>, pool: ThreadPool, scratch: MatMulScratch) {
        let k = w.cols
        let layout = Layout(values: F.vnniSubBlockValues)
        let blocks = k / layout.values
        let tiles = (tokens + tokensPerTile - 1) / tokensPerTile
        let tileBytes = blocks * layout.activationBlockBytes
        let activations = scratch.packedInputBytes(tiles * tileBytes)
        let activation = F.activationType
        pool.parallelFor(tiles) { range, _ in
            withUnsafeTemporaryAllocation(byteCount: activation.rowBytes(k), alignment: 64) { row in
                for tile in range {
                    prepareActivations(activation, layout: layout, bias: F.vnniLevelBias, x, tokens: tokens, cols: k, tile: tile,
                                       row: row.baseAddress!, into: activations + tile * tileBytes)
                }
            }
        }
        let groupBytes = blocks * layout.weightBlockBytes
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
                        let sums = layout.values == 16 ? microkernelOf16(wp, a, blocks: blocks)
                            : F.hasOffsets ? microkernelWithOffsets(wp, a, blocks: blocks) : microkernel(wp, a, blocks: blocks)
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
    /// and laid out per sub-block of `layout.values`: [8 tokens][values levels], then per token d_a,
    /// the starting sum -bias x Σ levels and d_a x Σ levels. q8_K's sums come from its bsums (one per
    /// 16 values).
    static func prepareActivations(_ type: DType, layout: Layout, bias: Int32, _ x: UnsafePointer<Float>, tokens: Int,
                                   cols: Int, tile: Int, row: UnsafeMutableRawPointer, into out: UnsafeMutableRawPointer) {
        let values = layout.values, blocks = cols / values
        let q8_0 = type == .q8_0
        precondition(q8_0 && values == 32 || type == .q8_K, "VNNIGEMM takes q8_0 or q8_K activations, not \(type)")
        for t in 0..<tokensPerTile {
            let token = tile * tokensPerTile + t
            if token < tokens { type.format.quantize(x + token * cols, row, count: cols) }
            for j in 0..<blocks {
                let dst = out + j * layout.activationBlockBytes
                var scale: Float = 0, sum: Int32 = 0
                if token < tokens && q8_0 {
                    let src = row + j * Q8_0Format.blockBytes
                    (dst + t * values).copyMemory(from: src + Q8_0Format.qsOffset, byteCount: values)
                    scale = UnsafeRawPointer(src).f16(at: 0)
                    for i in 0..<values { sum &+= Int32(src.load(fromByteOffset: Q8_0Format.qsOffset + i, as: Int8.self)) }
                } else if token < tokens {
                    // Sub-block s of block j / perBlock: the block's scale, its bsums of 16 values.
                    let perBlock = 256 / values, s = j % perBlock
                    let src = row + j / perBlock * Q8_KFormat.blockBytes
                    (dst + t * values).copyMemory(from: src + Q8_KFormat.qsOffset + s * values, byteCount: values)
                    scale = Q8_KFormat.scale(src)
                    for g in 0..<(values / 16) { sum &+= Q8_KFormat.bsum(src, s * values / 16 + g) }
                } else {
                    (dst + t * values).initializeMemory(as: UInt8.self, repeating: 0, count: values)
                }
                dst.storeBytes(of: scale, toByteOffset: layout.scale + 4 * t, as: Float.self)
                dst.storeBytes(of: -bias &* sum, toByteOffset: layout.start + 4 * t, as: Int32.self)
                dst.storeBytes(of: scale * Float(sum), toByteOffset: layout.levelSum + 4 * t, as: Float.self)
            }
        }
    }

    /// Rows firstRow ..< firstRow + 8 (zero steps past the matrix) -> per sub-block: vector i (32
    /// bytes) = unsigned levels 4i ..< 4i + 4 of rows 0...7, then the 8 rows' steps and offsets.
    /// Per 32 values the 8 rows' levels (8 words each) are gathered and transposed as an 8 x 8
    /// block of words (24 shuffles, not 64 scalar stores); with 16-value sub-blocks, vectors 0...3
    /// of the transpose are the first sub-block's and 4...7 the second's.
    static func packWeights<F: VNNIWeightFormat>(_ format: F.Type, _ w: Tensor, firstRow: Int,
                                                 into out: UnsafeMutableRawPointer) {
        let layout = Layout(values: F.vnniSubBlockValues)
        let parts = F.blockValues / 32, subBlocksPerPart = 32 / layout.values
        withUnsafeTemporaryAllocation(of: SIMD8<UInt32>.self, capacity: 2 * rowsPerGroup) { buffer in
            let gathered = buffer.baseAddress!, transposed = gathered + rowsPerGroup
            @inline(__always) func floats(_ p: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Float> {
                p.assumingMemoryBound(to: Float.self)
            }
            for b in 0..<(w.cols / F.blockValues) {
                for p in 0..<parts {
                    // Sub-block j of the row's sub-blocks, j = (b * parts + p) * subBlocksPerPart + s.
                    @inline(__always) func subBlock(_ s: Int) -> UnsafeMutableRawPointer {
                        out + ((b * parts + p) * subBlocksPerPart + s) * layout.weightBlockBytes
                    }
                    for r in 0..<rowsPerGroup {
                        let inMatrix = firstRow + r < w.rows
                        let block = w.row(min(firstRow + r, w.rows - 1)) + b * F.blockBytes
                        // Eight rows are eight streams. Prefetched, q5_K's packing for 8 tokens took 372
                        // us, not 702 (1024 x 2304, 4 rounds interleaved); the others within noise.
                        if p == 0 { Prefetch.ahead(block, bytes: F.blockBytes) }
                        gathered[r] = inMatrix ? F.vnniLevels(block, p) : .zero
                        for s in 0..<subBlocksPerPart {
                            let (step, offset) = inMatrix ? F.vnniStep(block, p * subBlocksPerPart + s) : (0, 0)
                            subBlock(s).storeBytes(of: step, toByteOffset: layout.weightSteps + 4 * r, as: Float.self)
                            subBlock(s).storeBytes(of: offset, toByteOffset: layout.weightOffsets + 4 * r, as: Float.self)
                        }
                    }
                    // Words as floats: the transpose only moves them.
                    if subBlocksPerPart == 1 {
                        AVX2Lanes.transpose8x8(floats(gathered), srcStride: 8, floats(subBlock(0)), dstStride: 8)
                    } else {
                        AVX2Lanes.transpose8x8(floats(gathered), srcStride: 8, floats(transposed), dstStride: 8)
                        for s in 0..<subBlocksPerPart {
                            for i in 0..<layout.groups {
                                subBlock(s).storeBytes(of: transposed[s * layout.groups + i], toByteOffset: 32 * i, as: SIMD8<UInt32>.self)
                            }
                        }
                    }
                }
            }
        }
    }

    typealias Sums = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                      SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// One packed group of 8 rows times one tile of 8 tokens over all `blocks` sub-blocks: result
    /// t, lane r = row r's dot with token t. Per sub-block: the weight vectors and the steps loaded
    /// once; per token an int32 sum from its starting value, a vpdpbusd per 4 values with the
    /// token's 4-byte groups broadcast, then acc_t += Float(sum) * (step * d_a). Not inlined: one
    /// call per group and tile runs all of K, and as symbols of their own scripts/check-kernel-calls
    /// reads them.
    @inline(never)
    static func microkernel(_ wp: UnsafeRawPointer, _ ap: UnsafeRawPointer, blocks: Int) -> Sums {
        tile(wp, ap, blocks: blocks, layout: Layout(values: 32), offsets: false)
    }

    /// `microkernel` for q4_K and q5_K: then acc_t += offset * (d_a * Σ a).
    @inline(never)
    static func microkernelWithOffsets(_ wp: UnsafeRawPointer, _ ap: UnsafeRawPointer, blocks: Int) -> Sums {
        tile(wp, ap, blocks: blocks, layout: Layout(values: 32), offsets: true)
    }

    /// `microkernel` for 16-value sub-blocks (q6_K): 4 vpdpbusd per token and step.
    @inline(never)
    static func microkernelOf16(_ wp: UnsafeRawPointer, _ ap: UnsafeRawPointer, blocks: Int) -> Sums {
        tile(wp, ap, blocks: blocks, layout: Layout(values: 16), offsets: false)
    }

    /// The microkernels' body; `layout` and `offsets` are constants at each call.
    @inline(__always)
    static func tile(_ wp: UnsafeRawPointer, _ ap: UnsafeRawPointer, blocks: Int, layout: Layout, offsets: Bool) -> Sums {
        typealias V = AVX2Lanes.V
        let wide = layout.groups == 8
        var acc: Sums = (.zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero)
        for b in 0..<blocks {
            let wb = wp + b &* layout.weightBlockBytes, ab = ap + b &* layout.activationBlockBytes
            let w0 = AVX2Lanes.load(wb), w1 = AVX2Lanes.load(wb + 32), w2 = AVX2Lanes.load(wb + 64), w3 = AVX2Lanes.load(wb + 96)
            let w4 = wide ? AVX2Lanes.load(wb + 128) : .zero, w5 = wide ? AVX2Lanes.load(wb + 160) : .zero
            let w6 = wide ? AVX2Lanes.load(wb + 192) : .zero, w7 = wide ? AVX2Lanes.load(wb + 224) : .zero
            let steps = wb.loadUnaligned(fromByteOffset: layout.weightSteps, as: SIMD8<Float>.self)
            @inline(__always) func token(_ t: Int, _ acc: inout SIMD8<Float>) {
                let a = ab + t &* layout.values
                @inline(__always) func group(_ j: Int) -> V {
                    unsafeBitCast(SIMD8<UInt32>(repeating: a.loadUnaligned(fromByteOffset: 4 &* j, as: UInt32.self)), to: V.self)
                }
                var s = unsafeBitCast(SIMD8<Int32>(repeating: ab.loadUnaligned(fromByteOffset: layout.start &+ 4 &* t, as: Int32.self)),
                                      to: V.self)
                s = ctx_dpbusd_epi32(s, w0, group(0)); s = ctx_dpbusd_epi32(s, w1, group(1))
                s = ctx_dpbusd_epi32(s, w2, group(2)); s = ctx_dpbusd_epi32(s, w3, group(3))
                if wide {
                    s = ctx_dpbusd_epi32(s, w4, group(4)); s = ctx_dpbusd_epi32(s, w5, group(5))
                    s = ctx_dpbusd_epi32(s, w6, group(6)); s = ctx_dpbusd_epi32(s, w7, group(7))
                }
                let da = ab.loadUnaligned(fromByteOffset: layout.scale &+ 4 &* t, as: Float.self)
                acc.addProduct(AVX2Lanes.float(AVX2Lanes.int32(s)), steps * SIMD8<Float>(repeating: da))
                if offsets {
                    let levelSum = ab.loadUnaligned(fromByteOffset: layout.levelSum &+ 4 &* t, as: Float.self)
                    acc.addProduct(wb.loadUnaligned(fromByteOffset: layout.weightOffsets, as: SIMD8<Float>.self),
                                   SIMD8<Float>(repeating: levelSum))
                }
            }
            token(0, &acc.0); token(1, &acc.1); token(2, &acc.2); token(3, &acc.3)
            token(4, &acc.4); token(5, &acc.5); token(6, &acc.6); token(7, &acc.7)
        }
        return acc
    }
}

/// A weight format `VNNIGEMM` takes: rows of sub-blocks of `vnniSubBlockValues` values, each value
/// step * (u - bias) + offset with u an unsigned level (0...255).
protocol VNNIWeightFormat: WeightFormat {
    /// The levels of values 32p ..< 32p + 32 of the block at `block`, 4 to a word, in order.
    static func vnniLevels(_ block: UnsafeRawPointer, _ p: Int) -> SIMD8<UInt32>
    /// Sub-block j's step and offset.
    static func vnniStep(_ block: UnsafeRawPointer, _ j: Int) -> (step: Float, offset: Float)
    /// Values per sub-block: 32, or 16 (q6_K).
    static var vnniSubBlockValues: Int { get }
    /// Fewest tokens `VNNIGEMM` takes; fewer go to `IntegerGEMM`, which reads the stored blocks and
    /// so skips the per-call packing that a few tokens' products do not repay. 1 for the q8_0
    /// family (no IntegerGEMM path). Measured (2 threads, 4 rounds interleaved, 1024 x 2304 and
    /// 2304 x 1024): q4_K and q5_K are faster in IntegerGEMM at 16 tokens (377 against 487 us,
    /// 448 against 526) and here at 32 (766 against 798, 701 against 881); q6_K, whose 16-value
    /// sub-blocks cost twice the packing, in IntegerGEMM at 32 (780 against 1021) and here at 64.
    static var vnniMinimumTokens: Int { get }
    /// Whether the offsets are used (q4_K's and q5_K's mins).
    static var hasOffsets: Bool { get }
    /// What the unsigned levels hold above the signed values the step multiplies: 128 for the
    /// q8_0 family (signed levels stored + 128), 32 for q6_K (q - 32), 0 for q4_K and q5_K.
    /// `VNNIGEMM` starts each sum at -bias x Σ a, which keeps the sum exact.
    static var vnniLevelBias: Int32 { get }
}

extension VNNIWeightFormat {
    static var vnniSubBlockValues: Int { 32 }
    static var vnniMinimumTokens: Int { 1 }
}

extension Q8_0PairedAVX2 {
    static func vnniLevels(_ block: UnsafeRawPointer, _ p: Int) -> SIMD8<UInt32> {
        unsafeBitCast(avx2Levels(block) ^ AVX2Lanes.bytes(0x80), to: SIMD8<UInt32>.self)
    }
    static func vnniStep(_ block: UnsafeRawPointer, _ j: Int) -> (step: Float, offset: Float) { (block.f16(at: 0), 0) }
    static var hasOffsets: Bool { false }
    static var vnniLevelBias: Int32 { 128 }
}

extension Q8_0Format: VNNIWeightFormat {}
extension Q4_0Format: VNNIWeightFormat {}
extension Q5_0Format: VNNIWeightFormat {}

extension Q4_KFormat: VNNIWeightFormat {
    /// Sub-block p: the low nibbles of bytes 32(p/2)... for even p, the high for odd (the GEMV's
    /// unpacking, `SuperBlockLanes.levels`).
    static func vnniLevels(_ block: UnsafeRawPointer, _ p: Int) -> SIMD8<UInt32> {
        unsafeBitCast(SuperBlockLanes.levels(block, qsOffset: qsOffset, fifthBits: nil, p), to: SIMD8<UInt32>.self)
    }
    /// Step d * scale_j, offset -dmin * min_j (both exact in f32: an 11-bit mantissa times a 6-bit
    /// integer); q5_K's header is the same.
    static func vnniStep(_ block: UnsafeRawPointer, _ j: Int) -> (step: Float, offset: Float) {
        let (scale, min) = scaleMin(block.advanced(by: scalesOffset).assumingMemoryBound(to: UInt8.self), j)
        return (block.f16(at: 0) * Float(scale), -(block.f16(at: 2) * Float(min)))
    }
    static var hasOffsets: Bool { true }
    static var vnniLevelBias: Int32 { 0 }
    static var vnniMinimumTokens: Int { 32 }
}

extension Q5_KFormat: VNNIWeightFormat {
    static func vnniLevels(_ block: UnsafeRawPointer, _ p: Int) -> SIMD8<UInt32> {
        unsafeBitCast(Q4_KFormat.SuperBlockLanes.levels(block, qsOffset: qsOffset, fifthBits: AVX2Lanes.load(block + qhOffset), p),
                      to: SIMD8<UInt32>.self)
    }
    static func vnniStep(_ block: UnsafeRawPointer, _ j: Int) -> (step: Float, offset: Float) { Q4_KFormat.vnniStep(block, j) }
    static var hasOffsets: Bool { true }
    static var vnniLevelBias: Int32 { 0 }
    static var vnniMinimumTokens: Int { 32 }
}

extension Q6_KFormat: VNNIWeightFormat {
    /// Part p's levels (0...63, q + 32; the GEMV's unpacking, `SuperBlockLanes.levels`): sub-blocks
    /// 2p and 2p + 1.
    static func vnniLevels(_ block: UnsafeRawPointer, _ p: Int) -> SIMD8<UInt32> {
        unsafeBitCast(SuperBlockLanes.levels(block, p), to: SIMD8<UInt32>.self)
    }
    /// Step d * scales[j] (exact in f32: an 11-bit mantissa times an 8-bit integer), no offset.
    static func vnniStep(_ block: UnsafeRawPointer, _ j: Int) -> (step: Float, offset: Float) {
        (block.f16(at: dOffset) * Float(block.load(fromByteOffset: scalesOffset + j, as: Int8.self)), 0)
    }
    static var vnniSubBlockValues: Int { 16 }
    static var vnniMinimumTokens: Int { 64 }
    static var hasOffsets: Bool { false }
    static var vnniLevelBias: Int32 { 32 }
}
#endif
