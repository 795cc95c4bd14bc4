import CPlatform

/// Matrix-matrix product for many tokens (prefill): Y (tokens, rows) = X (tokens, cols) · Wᵀ,
/// W (rows, cols) in any weight type; with AVX-512 VNNI the formats of level sub-blocks (q8_0,
/// q4_0, q5_0, and the K-quants from their `vnniMinimumTokens`) go to `VNNIGEMM`, other formats
/// with integer dot products to `IntegerGEMM`.
///
/// Compute-bound. The scheme: X is packed once into panels of 6 tokens ([k][6] per panel, zero
/// padded); the weights are taken 16 rows at a time, dequantized to f32 and packed as [k][16],
/// a few such panels together (`panelsPerGroup`); then a 6x16 register-blocked microkernel (12 ymm
/// accumulators, 2 weight loads and 6 broadcasts per k: 12 FMAs) walks K in blocks of 256 so
/// the weight block in use (16 KB) stays in L1 while a block of 16 token panels (96 KB, in L2)
/// passes over it, and that token block serves every panel of the group before the next.
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
        let panelFloats = group * tileRows * k + tileRows * kBlock
        scratch.reservePanels(floats: panelFloats)
        let regrouped = first.type == .f16 && tokens <= regroupedPanelMaximumTokens
        pool.parallelFor(groups.count, schedule: .dynamic(chunk: 1)) { range, thread in
            let panels = scratch.panelBuffer(thread: thread, floats: panelFloats)
            let chunks = panels + group * tileRows * k
            for g in range {
                let (w, y) = products[groups[g].product]
                let firstPanel = groups[g].firstPanel
                let count = min(group, panelCounts[groups[g].product] - firstPanel)
                for j in 0..<count {
                    let firstRow = (firstPanel + j) * tileRows
                    let rowCount = min(tileRows, w.rows - firstRow)
                    #if CTXBENCH_VNNI
                    if regrouped, rowCount == tileRows, let layout = w.decodeLayout {
                        packRegroupedF16(layout, firstRow: firstRow, k: k, into: panels + j * tileRows * k)
                        continue
                    }
                    #endif
                    packWeights(format, w, firstRow: firstRow, rowCount: rowCount, into: panels + j * tileRows * k, temp: chunks)
                }
                multiplyPanels(packed, panels, count: count, tokens: tokens, k: k, y: y + firstPanel * tileRows, ldy: w.rows,
                               rows: min(count * tileRows, w.rows - firstPanel * tileRows))
            }
        }
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
    /// A full f16 weight panel ([k][32] floats) from the decode copy (`Tensor.decodeLayout`: 16-row
    /// groups, [k][16] halves each): column c is two vcvtph2ps of the panel's two groups, no
    /// transposition. The values are those `packWeights` makes from the stored rows (widening an
    /// f16 is exact).
    static func packRegroupedF16(_ layout: InterleavedWeights, firstRow: Int, k: Int, into panel: UnsafeMutablePointer<Float>) {
        let group = InterleavedWeights.rowsPerGroup
        let low = layout.chunks(ofGroup: firstRow / group), high = layout.chunks(ofGroup: firstRow / group + 1)
        let out = UnsafeMutableRawPointer(panel)
        for c in 0..<k {
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

    /// `tileRows` weight rows -> [k][tileRows] floats, zero rows past `rowCount`. K goes in chunks of
    /// `kBlock`: the rows' chunks are dequantized into `temp` (tileRows x kBlock floats, in L1), then
    /// written out transposed, 8 x 8 floats at a time on AVX2 (scalar stores at a 64-byte stride were a
    /// sixth of a 128-token f16 GEMM). Chunks start on multiples of 256, so on block boundaries.
    static func packWeights<F: WeightFormat>(_ format: F.Type, _ w: Tensor, firstRow: Int, rowCount: Int,
                                             into panel: UnsafeMutablePointer<Float>, temp: UnsafeMutablePointer<Float>) {
        let k = w.cols
        for k0 in stride(from: 0, to: k, by: kBlock) {
            let kc = min(kBlock, k - k0)
            let chunkOffset = k0 / F.blockValues * F.blockBytes
            for r in 0..<tileRows {
                if r < rowCount {
                    F.dequantize(w.row(firstRow + r) + chunkOffset, temp + r * kBlock, count: kc)
                } else {
                    (temp + r * kBlock).update(repeating: 0, count: kc)
                }
            }
            transpose(temp, srcStride: kBlock, rows: tileRows, cols: kc, panel + k0 * tileRows, dstStride: tileRows)
        }
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

    /// All token panels against `count` packed weight panels ([count][k][16], `rows` valid rows in
    /// all), K in blocks of `kBlock`, token panels in blocks of `tokenPanelsPerBlock`: a block of
    /// the packed input (6 x 16 tokens x 256 k) is read from L2 by every weight panel's 256 x 16
    /// block (16 KB, in L1), instead of all tokens streaming from L3 once per 16 weight rows.
    /// Past about 300 tokens the packed input outgrows L2, so the first weight panel's pass over a
    /// token block read it from L3, 16 separate 6 KB slices the hardware prefetcher picked up late:
    /// each call therefore prefetches into L2 its share (1/count) of the matching slice of the next
    /// token block, a line every 8 steps of K (1-thread Kimi-wide f16 pp512: the 512-token
    /// projections 7-10% faster in each of 4 alternating rounds; results/development-machine.md).
    static func multiplyPanels(_ packed: UnsafePointer<Float>, _ panels: UnsafePointer<Float>, count: Int, tokens: Int, k: Int,
                               y: UnsafeMutablePointer<Float>, ldy: Int, rows: Int) {
        let tokenPanels = (tokens + tileTokens - 1) / tileTokens
        withUnsafeTemporaryAllocation(of: Float.self, capacity: tileTokens * tileRows) { tile in
            for k0 in stride(from: 0, to: k, by: kBlock) {
                let kc = min(kBlock, k - k0)
                for block in stride(from: 0, to: tokenPanels, by: tokenPanelsPerBlock) {
                    // The next token block: the following one at this K block, or the first at the next.
                    let nextBlock = block + tokenPanelsPerBlock < tokenPanels ? block + tokenPanelsPerBlock : 0
                    let nextK0 = nextBlock > 0 ? k0 : k0 + kBlock
                    func nextA(_ offset: Int) -> (slice: UnsafePointer<Float>, kc: Int)? {
                        let tp = nextBlock + offset
                        guard nextK0 < k, tp < min(nextBlock + tokenPanelsPerBlock, tokenPanels) else { return nil }
                        return (packed + tp * tileTokens * k + nextK0 * tileTokens, min(kBlock, k - nextK0))
                    }
                    for j in 0..<count {
                        let b = panels + j * tileRows * k + k0 * tileRows
                        let validRows = min(tileRows, rows - j * tileRows)
                        for tp in block..<min(block + tokenPanelsPerBlock, tokenPanels) {
                            let a = packed + tp * tileTokens * k + k0 * tileTokens
                            let firstToken = tp * tileTokens
                            let validTokens = min(tileTokens, tokens - firstToken)
                            let c = y + j * tileRows + firstToken * ldy
                            if validTokens == tileTokens && validRows == tileRows {
                                // Part j of the matching panel's slice in the next token block.
                                var prefetch: UnsafeRawPointer? = nil, lines = 0
                                if let next = nextA(tp - block) {
                                    let bytes = tileTokens * next.kc * 4, part = (bytes + count - 1) / count
                                    let first = j * part
                                    prefetch = UnsafeRawPointer(next.slice) + first
                                    lines = (min(bytes, first + part) - first + 63) / 64
                                }
                                microkernel(a, b, ldb: tileRows, kc: kc, c, ldc: ldy, accumulate: k0 > 0,
                                            prefetch: prefetch, prefetchLines: lines)
                            } else {
                                // Edge tile: compute into a 6 x tileRows temporary, then add the valid part.
                                let t = tile.baseAddress!
                                if k0 > 0 {
                                    for i in 0..<tileTokens { for r in 0..<tileRows {
                                        t[i * tileRows + r] = (i < validTokens && r < validRows) ? c[i * ldy + r] : 0
                                    } }
                                }
                                microkernel(a, b, ldb: tileRows, kc: kc, t, ldc: tileRows, accumulate: k0 > 0)
                                for i in 0..<validTokens { for r in 0..<validRows { c[i * ldy + r] = t[i * tileRows + r] } }
                            }
                        }
                    }
                }
            }
        }
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
                    microkernel(panel, b + c, ldb: ldb, kc: kc, out + first * ldo + c, ldc: ldo, accumulate: accumulate)
                } else {
                    microkernel(panel, b + c, ldb: ldb, kc: kc, tile + c, ldc: dim, accumulate: false)
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
    /// With `prefetch`, also brings `prefetchLines` cache lines from there into L2, one every 8
    /// steps of K (so at most kc / 8 lines).
    @inline(__always)
    static func microkernel(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, ldb: Int, kc: Int,
                            _ c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                            prefetch: UnsafeRawPointer? = nil, prefetchLines: Int = 0) {
        microkernel(b, ldb: ldb, kc: kc, c, ldc: ldc, accumulate: accumulate, prefetch: prefetch, prefetchLines: prefetchLines) { p, i in
            a[p &* tileTokens &+ i]
        }
    }

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
                            accumulate: Bool, prefetch: UnsafeRawPointer? = nil, prefetchLines: Int = 0, a: (Int, Int) -> Float) {
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
        if let prefetch {
            var p = 0
            while p &+ 8 <= kc {
                if p &>> 3 < prefetchLines { ctx_prefetch_read_l2(prefetch + (p &>> 3) &* 64) }
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
