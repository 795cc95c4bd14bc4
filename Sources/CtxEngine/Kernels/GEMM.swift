import CPlatform

/// Matrix-matrix product for many tokens (prefill): Y (tokens, rows) = X (tokens, cols) · Wᵀ,
/// W (rows, cols) in any weight type; with AVX-512 VNNI the formats of level sub-blocks (q8_0,
/// q4_0, q5_0, and the K-quants from their `vnniMinimumTokens`) go to `VNNIGEMM`, other formats
/// with integer dot products to `IntegerGEMM`.
///
/// Compute-bound. The scheme: X is packed once into panels of 6 tokens ([k][6] per panel, zero
/// padded); the weights are taken 16 rows at a time, a few such panels together
/// (`panelsPerGroup`), and K in blocks of 256: each block of the group's rows is dequantized to
/// f32 and packed as [256][16] per panel; then a 6x16 register-blocked microkernel (12 ymm
/// accumulators, 2 weight loads and 6 broadcasts per k: 12 FMAs) runs with the weight block in use
/// (16 KB) in L1 while a block of 16 token panels (96 KB, in L2) passes over it, and that token
/// block serves every panel of the group before the next.
/// Groups of weight panels are shared out dynamically over the pool. Dequantizing costs
/// O(rows x cols) per call against O(tokens x rows x cols) FMAs, so it vanishes for prefill-sized
/// batches.
///
/// With AVX-512 (`CTXBENCH_AVX512`) the same scheme runs on zmm: panels of 32 rows ([k][32], a
/// 32 KB weight block per K block), a 6x32 microkernel with 12 zmm accumulators, 2 weight loads
/// and 6 broadcasts per k, twice the FLOPs per instruction. With VNNI as well, f16 panels of GEMMs of
/// up to `regroupedPanelMaximumTokens` tokens are widened from the decode copy, with no transposition.
public enum GEMM {
    public static let tileTokens = 6
    #if CTXBENCH_AVX512
    public static let tileRows = 32
    #else
    public static let tileRows = 16
    #endif
    static let kBlock = 256

    /// `floatPanels` forces the dequantize-to-f32 path for integer formats too (the kernel benchmark
    /// measures both paths side by side).
    public static func multiply(_ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>,
                                pool: ThreadPool, scratch: MatMulScratch, floatPanels: Bool = false) {
        multiply([(w, y)], x, tokens: tokens, pool: pool, scratch: scratch, floatPanels: floatPanels)
    }

    /// Products of one input with several weights, y_j (tokens, rows_j) = X · W_jᵀ (gate and up, q/k/v):
    /// on the f32-panel path X is packed once and all the products' weight panel groups are shared
    /// out in one region, so a thread that finishes its groups of one product starts on the next
    /// instead of waiting for the other threads at a region's end (a 128-token expert's product has
    /// only 8 groups). The integer paths take the products one by one.
    public static func multiply(_ products: [(w: Tensor, y: UnsafeMutablePointer<Float>)], _ x: UnsafePointer<Float>,
                                tokens: Int, pool: ThreadPool, scratch: MatMulScratch, floatPanels: Bool = false) {
        let products = products.filter { $0.w.rows > 0 }
        guard tokens > 0, let first = products.first?.w else { return }
        guard let format = first.type.weightFormat else { preconditionFailure("\(first.type) is not a weight type") }
        precondition(products.allSatisfy { $0.w.type == first.type && $0.w.cols == first.cols },
                     "products of one input need one weight type and width")
        #if CTXBENCH_VNNI
        if !floatPanels, VNNIGEMM.multiplyIfSupported(first, x, tokens: tokens, products[0].y, pool: pool, scratch: scratch) {
            for (w, y) in products.dropFirst() {
                _ = VNNIGEMM.multiplyIfSupported(w, x, tokens: tokens, y, pool: pool, scratch: scratch)
            }
            return
        }
        #endif
        if !floatPanels, let integer = format as? any IntegerGEMMFormat.Type {
            for (w, y) in products { IntegerGEMM.multiply(integer, w, x, tokens: tokens, y, pool: pool, scratch: scratch) }
            return
        }
        let k = first.cols
        let tokenPanels = (tokens + tileTokens - 1) / tileTokens
        let packed = scratch.packedInputBuffer(floats: tokenPanels * tileTokens * k)
        packInput(x, tokens: tokens, cols: k, into: packed, rounding: format, pool: pool)
        // Weight panels go to threads in groups: a group's panels are dequantized together and
        // each block of token panels (in L2) passes over all of them before the next block.
        let panelCounts = products.map { ($0.w.rows + tileRows - 1) / tileRows }
        let group = max(1, min(panelsPerGroup, panelCounts.reduce(0, +) / (2 * pool.threadCount)))
        var groups: [(product: Int, firstPanel: Int)] = []
        for (j, count) in panelCounts.enumerated() {
            for firstPanel in stride(from: 0, to: count, by: group) { groups.append((j, firstPanel)) }
        }
        // A group's panels are packed one K block at a time, into the same slice buffer
        // ([count][kBlock][tileRows], 128 KB for 4 zmm panels): packing all of K at once (1.2 MB
        // for K 2304) pushed a 128-token expert's packed input (as large again) out of L2.
        let panelFloats = group * tileRows * kBlock + tileRows * kBlock
        scratch.reservePanels(floats: panelFloats)
        let regrouped = first.type == .f16 && tokens <= regroupedPanelMaximumTokens
        pool.parallelFor(groups.count, schedule: .dynamic(chunk: 1)) { range, thread in
            let panels = scratch.panelBuffer(thread: thread, floats: panelFloats)
            let chunks = panels + group * tileRows * kBlock
            for g in range {
                let (w, y) = products[groups[g].product]
                let firstPanel = groups[g].firstPanel
                let count = min(group, panelCounts[groups[g].product] - firstPanel)
                let rows = min(count * tileRows, w.rows - firstPanel * tileRows)
                // The weights' bytes, for the prefetch of each next K block: the decode copy's
                // 16-row groups ([k][16] halves, two a panel) or the stored rows.
                #if CTXBENCH_VNNI
                let layout = regrouped && rows == count * tileRows ? w.decodeLayout : nil
                let regroupedRuns = layout.map { layout in
                    WeightRuns(first: layout.chunks(ofGroup: firstPanel * tileRows / InterleavedWeights.rowsPerGroup),
                               stride: layout.groupBytes, perPanel: tileRows / InterleavedWeights.rowsPerGroup,
                               count: count * tileRows / InterleavedWeights.rowsPerGroup, blockValues: 1,
                               blockBytes: InterleavedWeights.rowsPerGroup * 2)
                }
                #else
                let regroupedRuns: WeightRuns? = nil
                #endif
                let source = regroupedRuns ?? WeightRuns(first: UnsafeRawPointer(w.row(firstPanel * tileRows)), stride: w.rowBytes,
                                                         perPanel: tileRows, count: rows, blockValues: format.blockValues,
                                                         blockBytes: format.blockBytes)
                multiplyPanels(packed, panels, count: count, tokens: tokens, k: k, y: y + firstPanel * tileRows, ldy: w.rows,
                               rows: rows, source: source) { k0, kc in
                    for j in 0..<count {
                        let firstRow = (firstPanel + j) * tileRows
                        let slice = panels + j * tileRows * kBlock
                        #if CTXBENCH_VNNI
                        if let layout {
                            packRegroupedF16(layout, firstRow: firstRow, k0: k0, kc: kc, into: slice)
                            continue
                        }
                        #endif
                        packWeights(format, w, firstRow: firstRow, rowCount: min(tileRows, w.rows - firstRow), k0: k0, kc: kc,
                                    into: slice, temp: chunks)
                    }
                }
            }
        }
    }

    /// Where a group's weights lie: `count` runs, run r at first + r * stride, `perPanel` of them a
    /// panel, each holding K in blocks of `blockValues` columns, `blockBytes` each (the stored rows:
    /// 32 runs a zmm panel, a row each; the f16 decode copy: 2, a 16-row group of [k][16] halves
    /// each). The next K block's bytes are then known ranges, which `multiplyPanels` prefetches
    /// while it computes this one.
    struct WeightRuns {
        var first: UnsafeRawPointer
        var stride: Int
        var perPanel: Int
        var count: Int
        var blockValues: Int
        var blockBytes: Int
    }

    /// Weight panels dequantized and multiplied together (see `multiplyPanels`).
    static let panelsPerGroup = 4
    /// Token panels per block: 16 panels (96 tokens) x kBlock (256) floats = 96 KB, in L2 while
    /// every weight panel of the group passes over it.
    static let tokenPanelsPerBlock = 16

    /// Up to this many tokens, f16 weight panels are widened from the decode copy where there is
    /// one (`packRegroupedF16`); past it the stored rows are packed (see results/development-machine.md).
    static let regroupedPanelMaximumTokens = 256

    #if CTXBENCH_VNNI
    /// Columns k0..<k0+kc of a full f16 weight panel ([kc][32] floats) from the decode copy
    /// (`Tensor.decodeLayout`: 16-row groups, [k][16] halves each): column c is two vcvtph2ps of the
    /// panel's two groups, no transposition. The values are those `packWeights` makes from the
    /// stored rows (widening an f16 is exact).
    static func packRegroupedF16(_ layout: InterleavedWeights, firstRow: Int, k0: Int, kc: Int, into panel: UnsafeMutablePointer<Float>) {
        let group = InterleavedWeights.rowsPerGroup
        let low = layout.chunks(ofGroup: firstRow / group) + k0 * 2 * group
        let high = layout.chunks(ofGroup: firstRow / group + 1) + k0 * 2 * group
        let out = UnsafeMutableRawPointer(panel)
        for c in 0..<kc {
            out.storeBytes(of: InterleavedLanes.halves(low + c &* 2 &* group), toByteOffset: c &* tileRows &* 4, as: SIMD16<Float>.self)
            out.storeBytes(of: InterleavedLanes.halves(high + c &* 2 &* group), toByteOffset: (c &* tileRows &+ group) &* 4,
                           as: SIMD16<Float>.self)
        }
    }
    #endif

    /// X (tokens, cols) -> panels of 6 tokens laid out [panel][k][6], zero-padded past `tokens`.
    /// Each token's row is first rounded as the weights' format has llama.cpp round it
    /// (`WeightFormat.roundActivation`: q8_0/q8_K quantization, f16/bf16 rounding), so a prefill
    /// computes the same function as a decode step and as llama.cpp.
    static func packInput(_ x: UnsafePointer<Float>, tokens: Int, cols: Int, into packed: UnsafeMutablePointer<Float>,
                          rounding format: any WeightFormat.Type, pool: ThreadPool) {
        let panels = (tokens + tileTokens - 1) / tileTokens
        let rounds = format.activationType != .f32
        pool.parallelFor(panels) { range, _ in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: rounds ? cols : 0) { row in
                for p in range {
                    packPanel(cols: cols, into: packed + p * tileTokens * cols) { t in
                        let token = p * tileTokens + t
                        guard token < tokens else { return nil }
                        guard rounds else { return x + token * cols }
                        format.roundActivation(x + token * cols, row.baseAddress!, count: cols)
                        return UnsafePointer(row.baseAddress!)
                    }
                }
            }
        }
    }

    /// One panel of the microkernel's `tileTokens` rows, laid out [cols][6]: row t is `row(t)`, or
    /// zeros where that is nil (past the last row). Called in order t = 0..<6, each row read before
    /// the next is asked for (GEMM's input, attention's queries).
    @inline(__always)
    static func packPanel(cols: Int, into out: UnsafeMutablePointer<Float>, row: (Int) -> UnsafePointer<Float>?) {
        for t in 0..<tileTokens {
            if let src = row(t) {
                for k in 0..<cols { out[k &* tileTokens &+ t] = src[k] }
            } else {
                for k in 0..<cols { out[k &* tileTokens &+ t] = 0 }
            }
        }
    }

    /// Columns k0..<k0+kc (kc <= kBlock) of `tileRows` weight rows -> [kc][tileRows] floats, zero
    /// rows past `rowCount`: the rows' chunks are dequantized into `temp` (tileRows x kBlock floats,
    /// in L1), then written out transposed, 8 x 8 floats at a time on AVX2 (scalar stores at a
    /// 64-byte stride were a sixth of a 128-token f16 GEMM). k0 is a multiple of 256, so on a block
    /// boundary.
    static func packWeights<F: WeightFormat>(_ format: F.Type, _ w: Tensor, firstRow: Int, rowCount: Int, k0: Int, kc: Int,
                                             into panel: UnsafeMutablePointer<Float>, temp: UnsafeMutablePointer<Float>) {
        let chunkOffset = k0 / F.blockValues * F.blockBytes
        for r in 0..<tileRows {
            if r < rowCount {
                F.dequantize(w.row(firstRow + r) + chunkOffset, temp + r * kBlock, count: kc)
            } else {
                (temp + r * kBlock).update(repeating: 0, count: kc)
            }
        }
        transpose(temp, srcStride: kBlock, rows: tileRows, cols: kc, panel, dstStride: tileRows)
    }

    /// dst[i * dstStride + r] = src[r * srcStride + i] for r < rows, i < cols: 8 x 8 blocks on AVX2
    /// (`AVX2Lanes.transpose8x8`), the rest value by value. GEMM's weight panels and the attention
    /// tiles' keys (`CacheAttention.transposeKeys`).
    @inline(__always)
    static func transpose(_ src: UnsafePointer<Float>, srcStride: Int, rows: Int, cols: Int,
                          _ dst: UnsafeMutablePointer<Float>, dstStride: Int) {
        var i = 0
        #if CTXBENCH_AVX2
        let blockedRows = rows / 8 * 8
        while i + 8 <= cols {
            for r in stride(from: 0, to: blockedRows, by: 8) {
                AVX2Lanes.transpose8x8(src + r * srcStride + i, srcStride: srcStride, dst + i * dstStride + r, dstStride: dstStride)
            }
            for r in blockedRows..<rows {
                for c in i..<(i + 8) { dst[c &* dstStride &+ r] = src[r &* srcStride &+ c] }
            }
            i += 8
        }
        #endif
        for i in i..<cols {
            for r in 0..<rows { dst[i &* dstStride &+ r] = src[r &* srcStride &+ i] }
        }
    }

    /// All token panels against `count` weight panels (`rows` valid rows in all), K in blocks of
    /// `kBlock`: `pack(k0, kc)` first fills `panels` with the group's slice of that K block
    /// ([count][kBlock][tileRows]; one panel's 256 x 32 block, 32 KB, stays in L1 while used), then
    /// the token panels pass over it in blocks of `tokenPanelsPerBlock`: a block of the packed input
    /// (16 x 6 tokens x 256 k, 96 KB) is read from L2 by every weight panel before the next block.
    /// Each microkernel call also prefetches into L2, a cache line of each every 8 steps of K:
    /// - its share (1/count) of the matching slice of the next token block: past about 300 tokens
    ///   the packed input outgrows L2, and the first weight panel's pass over a token block read it
    ///   from L3, 16 slices of 6 KB the hardware prefetcher picked up late (1-thread Kimi-wide f16
    ///   pp512: the 512-token projections 7-10% faster in each of 4 alternating rounds);
    /// - its share of its panel's weights for the next K block (`source`), which `pack` would
    ///   otherwise read from DRAM between two blocks' products, short runs (a row's 512 bytes, or
    ///   an 8 KB piece of the decode copy) the hardware prefetcher does not run ahead of. With fewer
    ///   token panels than runs a panel (32 rows of the stored layout), only the first runs are.
    /// results/development-machine.md has the measurements.
    static func multiplyPanels(_ packed: UnsafePointer<Float>, _ panels: UnsafeMutablePointer<Float>, count: Int, tokens: Int, k: Int,
                               y: UnsafeMutablePointer<Float>, ldy: Int, rows: Int, source: WeightRuns,
                               pack: (_ k0: Int, _ kc: Int) -> Void) {
        let tokenPanels = (tokens + tileTokens - 1) / tileTokens
        withUnsafeTemporaryAllocation(of: Float.self, capacity: tileTokens * tileRows) { tile in
            for k0 in stride(from: 0, to: k, by: kBlock) {
                let kc = min(kBlock, k - k0)
                pack(k0, kc)
                for block in stride(from: 0, to: tokenPanels, by: tokenPanelsPerBlock) {
                    // The next token block: the following one at this K block, or the first at the next.
                    let nextBlock = block + tokenPanelsPerBlock < tokenPanels ? block + tokenPanelsPerBlock : 0
                    let nextK0 = nextBlock > 0 ? k0 : k0 + kBlock
                    /// Part j (of count) of the matching token panel's slice in the next token block.
                    func nextInput(_ j: Int, _ tp: Int) -> (UnsafeRawPointer, Int)? {
                        let next = nextBlock + tp - block
                        guard nextK0 < k, next < min(nextBlock + tokenPanelsPerBlock, tokenPanels) else { return nil }
                        return share(UnsafeRawPointer(packed + next * tileTokens * k + nextK0 * tileTokens),
                                     bytes: tileTokens * min(kBlock, k - nextK0) * 4, part: j, of: count)
                    }
                    /// Panel j's weights for the next K block, its runs shared out over its token panels.
                    func nextWeights(_ j: Int, _ tp: Int) -> (UnsafeRawPointer, Int)? {
                        guard k0 + kBlock < k else { return nil }
                        let calls = (tokenPanels + source.perPanel - 1) / source.perPanel, run = j * source.perPanel + tp / calls
                        guard run < source.count else { return nil }
                        let blocks = (min(kBlock, k - k0 - kBlock) + source.blockValues - 1) / source.blockValues
                        return share(source.first + run * source.stride + (k0 + kBlock) / source.blockValues * source.blockBytes,
                                     bytes: blocks * source.blockBytes, part: tp % calls, of: calls)
                    }
                    for j in 0..<count {
                        let b = panels + j * tileRows * kBlock
                        let validRows = min(tileRows, rows - j * tileRows)
                        for tp in block..<min(block + tokenPanelsPerBlock, tokenPanels) {
                            let a = packed + tp * tileTokens * k + k0 * tileTokens
                            let firstToken = tp * tileTokens
                            let validTokens = min(tileTokens, tokens - firstToken)
                            let c = y + j * tileRows + firstToken * ldy
                            if validTokens == tileTokens && validRows == tileRows {
                                microkernel(a, b, ldb: tileRows, kc: kc, c, ldc: ldy, accumulate: k0 > 0,
                                            prefetch: (nextInput(j, tp), nextWeights(j, tp)))
                            } else {
                                // Edge tile: compute into a 6 x tileRows temporary, then add the valid part.
                                let t = tile.baseAddress!
                                if k0 > 0 {
                                    for i in 0..<tileTokens { for r in 0..<tileRows {
                                        t[i * tileRows + r] = (i < validTokens && r < validRows) ? c[i * ldy + r] : 0
                                    } }
                                }
                                microkernel(a, b, ldb: tileRows, kc: kc, t, ldc: tileRows, accumulate: k0 > 0, prefetch: (nil, nil))
                                for i in 0..<validTokens { for r in 0..<validRows { c[i * ldy + r] = t[i * tileRows + r] } }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Part `index` of `parts` of the `bytes` from `start`, as its first byte and its cache lines;
    /// nil past the end.
    @inline(__always)
    static func share(_ start: UnsafeRawPointer, bytes: Int, part index: Int, of parts: Int) -> (UnsafeRawPointer, Int)? {
        let size = (bytes + parts - 1) / parts, first = index * size
        guard first < bytes else { return nil }
        return (start + first, (min(bytes, first + size) - first + 63) / 64)
    }

    /// out (m, dim) (+)= A (m, kc) · B (kc, dim), all three row-major with their own strides (lda,
    /// ldb, ldo): small products of f32 matrices already in memory, such as KDA's chunk against its
    /// 128 x 128 state. A is packed 6 rows at a time into `scratch`, and each panel runs on the
    /// microkernel against B's rows as they lie; a last panel of fewer than 6 rows goes through a
    /// 6 x dim tile in `scratch`. When dim is not a multiple of `tileRows`, row by row
    /// (`VectorOps.accumulateRows`). scratch: at least 6 x (kc + dim) floats.
    static func multiplyRows(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, kc: Int, _ b: UnsafePointer<Float>, ldb: Int,
                             dim: Int, _ out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool,
                             scratch: UnsafeMutablePointer<Float>) {
        guard dim % tileRows == 0 else {
            for i in 0..<m {
                let row = out + i * ldo
                if !accumulate { row.initialize(repeating: 0, count: dim) }
                VectorOps.accumulateRows(row, weights: a + i * lda, rows: b, stride: ldb, count: kc, dim: dim)
            }
            return
        }
        let panel = scratch, tile = scratch + tileTokens * kc
        for first in stride(from: 0, to: m, by: tileTokens) {
            let valid = min(tileTokens, m - first)
            packPanel(cols: kc, into: panel) { i in i < valid ? a + (first + i) * lda : nil }
            let whole = valid == tileTokens
            for c in stride(from: 0, to: dim, by: tileRows) {
                if whole {
                    microkernel(panel, b + c, ldb: ldb, kc: kc, out + first * ldo + c, ldc: ldo, accumulate: accumulate, prefetch: (nil, nil))
                } else {
                    microkernel(panel, b + c, ldb: ldb, kc: kc, tile + c, ldc: dim, accumulate: false, prefetch: (nil, nil))
                }
            }
            if !whole {
                for i in 0..<valid {
                    let row = out + (first + i) * ldo
                    if accumulate { VectorOps.axpy(1, tile + i * dim, row, dim) } else { row.update(from: tile + i * dim, count: dim) }
                }
            }
        }
    }

    /// C (6, tileRows) (+)= A (6 x kc, packed [k][6]) · B (kc x tileRows: row p at b + p * ldb; GEMM
    /// packs its weight panels with ldb tileRows, attention passes cache rows as they lie).
    /// Twelve accumulators stay in registers (checked in the assembly: the loop body is 2 vmovups,
    /// 6 vbroadcastss and 12 vfmadd231ps). With `accumulate`, C's rows are prefetched before the
    /// loop and added after it, not loaded into the accumulators first: a prefill's C tiles
    /// (rows ldy apart) have left L2 by the next K block, and FMA chains waiting on their loads
    /// stalled each call for an L3 round trip (about a tenth of a 512-token GEMM).
    /// With `prefetch`, also brings up to two ranges (a start and a number of cache lines) into
    /// L2, a line of each every 8 steps of K (so at most kc / 8 lines of each).
    /// One out-of-line function, called once per tile (some 1,500 cycles of FMAs at kc 256): Swift
    /// honours @inline(__always) only for a callee of at most 64 blocks or a caller of fewer, and
    /// with the prefetch loop this one and its callers are past both, so it was outlined anyway.
    /// `scripts/check-kernel-calls` checks that it calls nothing.
    @inline(never)
    static func microkernel(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, ldb: Int, kc: Int,
                            _ c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                            prefetch: Prefetch) {
        microkernel(b, ldb: ldb, kc: kc, c, ldc: ldc, accumulate: accumulate, prefetch: prefetch) { p, i in
            a[p &* tileTokens &+ i]
        }
    }

    /// Two ranges to prefetch, each a start and a number of cache lines.
    typealias Prefetch = ((UnsafeRawPointer, Int)?, (UnsafeRawPointer, Int)?)

    /// The same product with A's six rows read where they lie (row i's element p at `rows.i[p]`),
    /// not packed: decode attention's scores, Sᵀ (6 keys, 32 queries) = K · Qᵀ, take a tile's key
    /// rows so, which costs a broadcast per key and depth step where packing them in panels (a
    /// transposition per 32-key tile) cost as much as it saved.
    @inline(__always)
    static func microkernel(rows: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                   UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                            _ b: UnsafePointer<Float>, ldb: Int, kc: Int,
                            _ c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        microkernel(b, ldb: ldb, kc: kc, c, ldc: ldc, accumulate: accumulate) { p, i in
            switch i {
            case 0: rows.0[p]
            case 1: rows.1[p]
            case 2: rows.2[p]
            case 3: rows.3[p]
            case 4: rows.4[p]
            default: rows.5[p]
            }
        }
    }

    /// The microkernel's body, A's element (k p, row i) from `a` (inlined with i a constant).
    @inline(__always)
    static func microkernel(_ b: UnsafePointer<Float>, ldb: Int, kc: Int, _ c: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool, prefetch: Prefetch = (nil, nil), a: (Int, Int) -> Float) {
        // Half a row of B: 8 floats (ymm), or 16 (zmm) with AVX-512.
        #if CTXBENCH_AVX512
        typealias V = SIMD16<Float>
        #else
        typealias V = SIMD8<Float>
        #endif
        let cr = UnsafeMutableRawPointer(c)
        if accumulate {
            for i in 0..<tileTokens {
                ctx_prefetch_read(cr + i &* ldc &* 4)
                ctx_prefetch_read(cr + (i &* ldc &+ tileRows &- 1) &* 4)
            }
        }
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        let br = UnsafeRawPointer(b)
        @inline(__always) func step(_ p: Int) {
            let b0 = br.loadUnaligned(fromByteOffset: p &* ldb &* 4, as: V.self)
            let b1 = br.loadUnaligned(fromByteOffset: p &* ldb &* 4 &+ V.scalarCount &* 4, as: V.self)
            var av = V(repeating: a(p, 0)); c00.addProduct(av, b0); c01.addProduct(av, b1)
            av = V(repeating: a(p, 1)); c10.addProduct(av, b0); c11.addProduct(av, b1)
            av = V(repeating: a(p, 2)); c20.addProduct(av, b0); c21.addProduct(av, b1)
            av = V(repeating: a(p, 3)); c30.addProduct(av, b0); c31.addProduct(av, b1)
            av = V(repeating: a(p, 4)); c40.addProduct(av, b0); c41.addProduct(av, b1)
            av = V(repeating: a(p, 5)); c50.addProduct(av, b0); c51.addProduct(av, b1)
        }
        if prefetch.0 != nil || prefetch.1 != nil {
            let (first, firstLines) = prefetch.0 ?? (br, 0), (second, secondLines) = prefetch.1 ?? (br, 0)
            var p = 0
            while p &+ 8 <= kc {
                let line = p &>> 3
                if line < firstLines { ctx_prefetch_read_l2(first + line &* 64) }
                if line < secondLines { ctx_prefetch_read_l2(second + line &* 64) }
                for q in 0..<8 { step(p &+ q) }
                p &+= 8
            }
            while p < kc { step(p); p &+= 1 }
        } else {
            for p in 0..<kc { step(p) }
        }
        @inline(__always) func st(_ v: V, _ i: Int, _ half: Int) {
            let offset = (i &* ldc &+ half &* V.scalarCount) &* 4
            let sum = accumulate ? cr.loadUnaligned(fromByteOffset: offset, as: V.self) + v : v
            cr.storeBytes(of: sum, toByteOffset: offset, as: V.self)
        }
        st(c00, 0, 0); st(c01, 0, 1); st(c10, 1, 0); st(c11, 1, 1)
        st(c20, 2, 0); st(c21, 2, 1); st(c30, 3, 0); st(c31, 3, 1)
        st(c40, 4, 0); st(c41, 4, 1); st(c50, 5, 0); st(c51, 5, 1)
    }
}
