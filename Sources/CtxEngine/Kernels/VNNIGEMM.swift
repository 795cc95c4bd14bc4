#if CTXBENCH_VNNI
import CX86Intrinsics

/// Prefill's product for the weight formats dotted with q8_0 activations (q8_0, q4_0, q5_0) on CPUs
/// with AVX-512 VNNI: Y (tokens, rows) = X (tokens, cols) · Wᵀ in integer dot products, as llama.cpp
/// computes it: each token's row quantized to q8_0 once per call (the GEMV's quantizer, so the same
/// bytes), each weight block's 32 levels times the activation block's, summed exactly in int32, then
/// scaled by d_w * d_a in float.
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
/// Signs: vpdpbusd's first operand is unsigned, so weight levels are stored + 128 (u = q + 128) and
/// Σ u a = Σ q a + 128 Σ a; each int32 sum starts from -128 Σ a of its token's block, stored with
/// the activation, so it is exact: |Σ q a| <= 32 * 128 * 127.
///
/// Blocking: rows go in panels of `groupsPerPanel` groups of 8 (32 rows, 36 KB of packed weights
/// per 1K columns per group, in L2), shared out dynamically; each thread packs its panel once, then
/// every tile of 8 tokens (their blocks interleaved, 320 bytes per block) passes over its groups.
/// Tokens are padded to a multiple of 8 with zero rows (scale 0).
///
/// Every output is Σ_b fma-accumulated in block order of Float(S_b) * (d_w * d_a): the same for a
/// token whichever tile it is in (tested against a scalar model of that sum).
enum VNNIGEMM {
    static let rowsPerGroup = 8
    static let groupsPerPanel = 4
    static let tokensPerTile = 8
    /// Bytes of one packed weight block: 8 vectors of 32 bytes (4 levels x 8 rows), 8 f32 scales.
    static let weightBlockBytes = 8 * 32 + 32
    /// Bytes of one activation block of a token tile: 8 tokens x 32 levels, 8 f32 scales, 8 int32
    /// corrections (-128 x Σ levels).
    static let activationBlockBytes = 8 * 32 + 32 + 32

    static func multiply<F: Q8_0PairedAVX2>(_ format: F.Type, _ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int,
                                            _ y: UnsafeMutablePointer<Float>, pool: ThreadPool, scratch: MatMulScratch) {
        let k = w.cols
        let blocks = k / 32
        let tiles = (tokens + tokensPerTile - 1) / tokensPerTile
        let tileBytes = blocks * activationBlockBytes
        let activations = scratch.packedInputBytes(tiles * tileBytes)
        pool.parallelFor(tiles) { range, _ in
            withUnsafeTemporaryAllocation(byteCount: blocks * Q8_0Format.blockBytes, alignment: 64) { row in
                for tile in range {
                    prepareActivations(x, tokens: tokens, cols: k, tile: tile, row: row.baseAddress!,
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
                        let sums = microkernel(UnsafeRawPointer(packed + g * groupBytes), a, blocks: blocks)
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

    /// Tokens tile * 8 ..< tile * 8 + 8 of x (zero past `tokens`) quantized to q8_0 and laid out per
    /// block: [8 tokens][32 levels], [8] f32 scales, [8] int32 -128 x Σ levels.
    static func prepareActivations(_ x: UnsafePointer<Float>, tokens: Int, cols: Int, tile: Int,
                                   row: UnsafeMutableRawPointer, into out: UnsafeMutableRawPointer) {
        let blocks = cols / 32
        for t in 0..<tokensPerTile {
            let token = tile * tokensPerTile + t
            for b in 0..<blocks {
                let dst = out + b * activationBlockBytes
                if token < tokens {
                    if b == 0 { Q8_0Format.quantize(x + token * cols, row, count: cols) }
                    let src = row + b * Q8_0Format.blockBytes
                    let levels = src.loadUnaligned(fromByteOffset: Q8_0Format.qsOffset, as: SIMD32<Int8>.self)
                    dst.storeBytes(of: levels, toByteOffset: t * 32, as: SIMD32<Int8>.self)
                    dst.storeBytes(of: UnsafeRawPointer(src).f16(at: 0), toByteOffset: 256 + 4 * t, as: Float.self)
                    var sum: Int32 = 0
                    for i in 0..<32 { sum &+= Int32(levels[i]) }
                    dst.storeBytes(of: -128 &* sum, toByteOffset: 288 + 4 * t, as: Int32.self)
                } else {
                    dst.storeBytes(of: SIMD32<Int8>(), toByteOffset: t * 32, as: SIMD32<Int8>.self)
                    dst.storeBytes(of: Float(0), toByteOffset: 256 + 4 * t, as: Float.self)
                    dst.storeBytes(of: Int32(0), toByteOffset: 288 + 4 * t, as: Int32.self)
                }
            }
        }
    }

    /// Rows firstRow ..< firstRow + 8 (zero-scaled past the matrix) -> per block: vector j (32
    /// bytes) = levels 4j ..< 4j + 4 of rows 0...7, each + 128; then the 8 rows' scales as floats.
    static func packWeights<F: Q8_0PairedAVX2>(_ format: F.Type, _ w: Tensor, firstRow: Int,
                                               into out: UnsafeMutableRawPointer) {
        let blocks = w.cols / 32
        for r in 0..<rowsPerGroup {
            let row = firstRow + r
            for b in 0..<blocks {
                let dst = out + b * weightBlockBytes
                guard row < w.rows else {
                    for j in 0..<8 { dst.storeBytes(of: UInt32(0x8080_8080), toByteOffset: j * 32 + 4 * r, as: UInt32.self) }
                    dst.storeBytes(of: Float(0), toByteOffset: 256 + 4 * r, as: Float.self)
                    continue
                }
                let block = w.row(row) + b * F.blockBytes
                let levels = unsafeBitCast(F.avx2Levels(block), to: SIMD8<UInt32>.self) ^ 0x8080_8080
                for j in 0..<8 { dst.storeBytes(of: levels[j], toByteOffset: j * 32 + 4 * r, as: UInt32.self) }
                dst.storeBytes(of: block.f16(at: 0), toByteOffset: 256 + 4 * r, as: Float.self)
            }
        }
    }

    typealias Sums = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                      SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// One packed group of 8 rows times one tile of 8 tokens over all `blocks`: result t, lane r =
    /// row r's dot with token t. Per block: the 8 weight vectors and the scales loaded once; per
    /// token an int32 sum started at its correction, 8 vpdpbusd with the token's 4-byte groups
    /// broadcast, then acc_t += Float(sum) * (d_w * d_a). Not inlined: one call per group and tile
    /// runs all of K, and as a symbol of its own scripts/check-kernel-calls reads it.
    @inline(never)
    static func microkernel(_ wp: UnsafeRawPointer, _ ap: UnsafeRawPointer, blocks: Int) -> Sums {
        typealias V = AVX2Lanes.V
        var acc: Sums = (.zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero)
        for b in 0..<blocks {
            let wb = wp + b &* weightBlockBytes, ab = ap + b &* activationBlockBytes
            let w0 = AVX2Lanes.load(wb), w1 = AVX2Lanes.load(wb + 32), w2 = AVX2Lanes.load(wb + 64)
            let w3 = AVX2Lanes.load(wb + 96), w4 = AVX2Lanes.load(wb + 128), w5 = AVX2Lanes.load(wb + 160)
            let w6 = AVX2Lanes.load(wb + 192), w7 = AVX2Lanes.load(wb + 224)
            let dw = wb.loadUnaligned(fromByteOffset: 256, as: SIMD8<Float>.self)
            @inline(__always) func token(_ t: Int, _ acc: inout SIMD8<Float>) {
                let a = ab + t &* 32
                @inline(__always) func group(_ j: Int) -> V {
                    unsafeBitCast(SIMD8<UInt32>(repeating: a.loadUnaligned(fromByteOffset: 4 &* j, as: UInt32.self)), to: V.self)
                }
                var s = unsafeBitCast(SIMD8<Int32>(repeating: ab.loadUnaligned(fromByteOffset: 288 &+ 4 &* t, as: Int32.self)),
                                      to: V.self)
                s = ctx_dpbusd_epi32(s, w0, group(0)); s = ctx_dpbusd_epi32(s, w1, group(1))
                s = ctx_dpbusd_epi32(s, w2, group(2)); s = ctx_dpbusd_epi32(s, w3, group(3))
                s = ctx_dpbusd_epi32(s, w4, group(4)); s = ctx_dpbusd_epi32(s, w5, group(5))
                s = ctx_dpbusd_epi32(s, w6, group(6)); s = ctx_dpbusd_epi32(s, w7, group(7))
                let da = ab.loadUnaligned(fromByteOffset: 256 &+ 4 &* t, as: Float.self)
                acc.addProduct(AVX2Lanes.float(AVX2Lanes.int32(s)), dw * SIMD8<Float>(repeating: da))
            }
            token(0, &acc.0); token(1, &acc.1); token(2, &acc.2); token(3, &acc.3)
            token(4, &acc.4); token(5, &acc.5); token(6, &acc.6); token(7, &acc.7)
        }
        return acc
    }
}
#endif
