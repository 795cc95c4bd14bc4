/// Attention of a batch of query tokens over a KV cache with a streaming softmax, parallel over
/// (query block x KV head x key split). Serves MLA's absorbed form (one 576-wide latent cache read
/// as keys, its first 512 values as values: MQA with 32 query heads) and GQA (8 KV heads, each
/// shared by 8 or 12 query heads, optionally a sliding window).
///
/// Shapes:
///   queries  [tokens][qHeads][keyDim]     pre-scaled by 1/sqrt(d)
///   keys[h]  cache of kvHeads caches, rows of keyDim (MLA: the latent cache, width 576)
///   values[h] rows whose first valueDim values are the value (MLA: the same latent cache)
///   out      [tokens][qHeads][valueDim]
/// Query token t sits at position firstPosition + t and sees keys at positions
/// max(0, p - window + 1) ... p (causal; full attention when window is nil).
///
/// Work items group up to 64 queries (tokens x the query heads of one KV head) so each cache tile
/// (32 keys, dequantized once when the cache is f16/q8_0) serves all of them. When there are too
/// few items for the pool (decode), the key range is split and the partial softmax states merged.
///
/// Per tile, the item's scores and value sums are register-blocked small matrix products
/// (`attendRangeBlocked`): S (queries x 32 keys) = Q · Kᵀ on GEMM's microkernel (prefill: keys
/// transposed; decode with a microkernel width of queries, MLA's 32 heads: Sᵀ = K · Qᵀ with the
/// key rows read in place) or else three queries by four keys at a time, then O += P · V on the
/// microkernel straight from the tile's rows. A query-by-query form
/// (a dot per key, then a row sum per query) re-reads the 74 KB MLA tile from L2 for every query
/// and ran at about a third of the FMA peak. Value widths that are not a multiple of 16, or key
/// widths not a multiple of 8, take that plain form (`attendRangePerQuery`).
public enum CacheAttention {
    public struct Shape: Sendable {
        public var tokens: Int
        public var qHeads: Int
        public var kvHeads: Int
        public var keyDim: Int
        public var valueDim: Int
        public var firstPosition: Int
        public var window: Int?

        public init(tokens: Int, qHeads: Int, kvHeads: Int, keyDim: Int, valueDim: Int, firstPosition: Int, window: Int?) {
            self.tokens = tokens; self.qHeads = qHeads; self.kvHeads = kvHeads
            self.keyDim = keyDim; self.valueDim = valueDim; self.firstPosition = firstPosition; self.window = window
        }

        var group: Int { qHeads / kvHeads }

        /// Visible keys of query token t.
        @inline(__always)
        func visible(_ t: Int) -> Range<Int> {
            let p = firstPosition + t
            return (window.map { Swift.max(0, p - $0 + 1) } ?? 0)..<(p + 1)
        }
    }

    static let keyBlock = 32
    static let queriesPerItem = 64

    public static func run(queries: UnsafePointer<Float>, shape: Shape, keys: [KVCache], values: [KVCache],
                           out: UnsafeMutablePointer<Float>, pool: ThreadPool, scratch: AttentionScratch) {
        precondition(shape.qHeads % shape.kvHeads == 0 && keys.count == shape.kvHeads && values.count == shape.kvHeads)
        let g = shape.group
        let blockTokens = Swift.max(1, Swift.min(shape.tokens, queriesPerItem / g))
        let queryBlocks = (shape.tokens + blockTokens - 1) / blockTokens
        let outer = queryBlocks * shape.kvHeads
        let span = shape.visible(shape.tokens - 1).upperBound - shape.visible(0).lowerBound
        var splits = 1
        if outer < 2 * pool.threadCount {
            splits = Swift.max(1, Swift.min((span + 255) / 256, (4 * pool.threadCount + outer - 1) / outer))
        }
        let queriesPerBlock = blockTokens * g
        let partialStride = shape.valueDim + 2
        scratch.reserve(threads: pool.threadCount, keyWidth: keys[0].width, valueWidth: values[0].width,
                        valueDim: shape.valueDim, queries: queriesPerBlock,
                        partials: splits > 1 ? outer * splits * queriesPerBlock * partialStride : 0)
        let shared = keys.indices.allSatisfy { keys[$0] === values[$0] }

        pool.parallelFor(outer * splits, schedule: .dynamic(chunk: 1)) { range, thread in
            let ts = scratch.threadBuffers(thread)
            for item in range {
                let split = item % splits, kvHead = (item / splits) % shape.kvHeads, block = item / splits / shape.kvHeads
                let t0 = block * blockTokens, t1 = Swift.min(shape.tokens, t0 + blockTokens)
                let lo = shape.visible(t0).lowerBound, hi = shape.visible(t1 - 1).upperBound
                let chunk = (hi - lo + splits - 1) / splits
                let keyRange = Swift.min(hi, lo + split * chunk)..<Swift.min(hi, lo + (split + 1) * chunk)
                let count = (t1 - t0) * g
                var states = [SoftmaxPartial](repeating: SoftmaxPartial(), count: count)
                ts.accumulators.initialize(repeating: 0, count: count * shape.valueDim)
                attendRange(queries: queries, shape: shape, kvHead: kvHead, tokens: t0..<t1, keyRange: keyRange,
                            keys: keys[kvHead], values: values[kvHead], shared: shared, states: &states, ts: ts)
                for qi in 0..<count {
                    let t = t0 + qi / g, h = kvHead * g + qi % g
                    let acc = ts.accumulators + qi * shape.valueDim
                    if splits == 1 {
                        OnlineSoftmax.finish(states[qi], acc, dim: shape.valueDim)
                        (out + (t * shape.qHeads + h) * shape.valueDim).update(from: acc, count: shape.valueDim)
                    } else {
                        let p = scratch.partials + ((item * queriesPerBlock) + qi) * partialStride
                        p[0] = states[qi].max
                        p[1] = states[qi].sum
                        (p + 2).update(from: acc, count: shape.valueDim)
                    }
                }
            }
        }
        guard splits > 1 else { return }
        // Merge the key splits of every (block, kvHead) query.
        pool.parallelFor(outer) { range, _ in
            for o in range {
                let block = o / shape.kvHeads, kvHead = o % shape.kvHeads
                let t0 = block * blockTokens, t1 = Swift.min(shape.tokens, t0 + blockTokens)
                for qi in 0..<((t1 - t0) * g) {
                    let t = t0 + qi / g, h = kvHead * g + qi % g
                    let dst = out + (t * shape.qHeads + h) * shape.valueDim
                    var state = SoftmaxPartial()
                    for split in 0..<splits {
                        let p = scratch.partials + (((o * splits + split) * queriesPerBlock) + qi) * partialStride
                        OnlineSoftmax.merge(&state, dst, SoftmaxPartial(max: p[0], sum: p[1]), p + 2, dim: shape.valueDim)
                    }
                    OnlineSoftmax.finish(state, dst, dim: shape.valueDim)
                }
            }
        }
    }

    /// Streams keys `keyRange` of one KV head through the softmax states and accumulators of the
    /// queries of tokens `tokens`.
    static func attendRange(queries: UnsafePointer<Float>, shape: Shape, kvHead: Int, tokens: Range<Int>,
                            keyRange: Range<Int>, keys: KVCache, values: KVCache, shared: Bool,
                            states: inout [SoftmaxPartial], ts: AttentionScratch.ThreadBuffers) {
        if shape.valueDim % GEMM.tileRows == 0 && shape.keyDim % 8 == 0 {
            attendRangeBlocked(queries: queries, shape: shape, kvHead: kvHead, tokens: tokens, keyRange: keyRange,
                               keys: keys, values: values, shared: shared, states: &states, ts: ts)
        } else {
            attendRangePerQuery(queries: queries, shape: shape, kvHead: kvHead, tokens: tokens, keyRange: keyRange,
                                keys: keys, values: values, shared: shared, states: &states, ts: ts)
        }
    }

    /// Per tile of n <= 32 keys, for the item's queries (query qi = (t - t0) * g + head in the group):
    ///   S  [query][32]            = Q · Kᵀ, 3 queries x 4 keys at a time (`scoreBlock`), both read
    ///                             in place (rows contiguous along keyDim)
    ///   P  [panel][32][6]         exp(S - running max) of each query's visible keys, 0 elsewhere,
    ///                             in the 6-query panels of GEMM's microkernel
    ///   O  [panel * 6][valueDim] += P · V (microkernel; V the tile's rows as they lie, ldb = row width)
    /// Accumulators hold `AttentionScratch.paddedQueries` rows, so padded queries need no edge case.
    static func attendRangeBlocked(queries: UnsafePointer<Float>, shape: Shape, kvHead: Int, tokens: Range<Int>,
                                   keyRange: Range<Int>, keys: KVCache, values: KVCache, shared: Bool,
                                   states: inout [SoftmaxPartial], ts: AttentionScratch.ThreadBuffers) {
        let g = shape.group, dv = shape.valueDim, kd = shape.keyDim
        let lanes = GEMM.tileTokens
        let count = tokens.count * g
        let panels = (count + lanes - 1) / lanes
        let scores = ts.scores, pp = ts.probabilityPanels
        @inline(__always) func query(_ qi: Int) -> UnsafePointer<Float> {
            queries + ((tokens.lowerBound + qi / g) * shape.qHeads + kvHead * g + qi % g) * kd
        }
        (ts.accumulators + count * dv).initialize(repeating: 0, count: (panels * lanes - count) * dv)
        pp.initialize(repeating: 0, count: panels * keyBlock * lanes)
        // Prefill-sized items take their scores from GEMM's microkernel too: queries packed in
        // panels once per item, each tile's keys transposed once for all of them.
        let packedScores = count >= packedScoreQueries
        // Decode-sized items with a full microkernel width of queries (MLA's 32 heads) take their
        // scores as Sᵀ = K · Qᵀ on the microkernel: Qᵀ packed once per item, the keys read in place.
        let keyRowScores = !packedScores && count >= GEMM.tileRows
        let width = GEMM.tileRows, queryBlocks = (count + width - 1) / width
        if packedScores {
            let qp = ts.queryPanels
            for p in 0..<panels {
                GEMM.packPanel(cols: kd, into: qp + p * kd * lanes) { lane in
                    p * lanes + lane < count ? query(p * lanes + lane) : nil
                }
            }
        } else if keyRowScores {
            // Qᵀ [block][kd][width], queries past `count` zero.
            let qt = ts.queryPanels
            for qi in 0..<(queryBlocks * width) {
                let column = qt + (qi / width) * kd * width + qi % width
                if qi < count {
                    let q = query(qi)
                    for d in 0..<kd { column[d &* width] = q[d] }
                } else {
                    for d in 0..<kd { column[d &* width] = 0 }
                }
            }
        }
        var b0 = keyRange.lowerBound
        while b0 < keyRange.upperBound {
            let b1 = keys.contiguousEnd(from: b0, limit: Swift.min(keyRange.upperBound, b0 + keyBlock))
            let n = b1 - b0
            let k = keys.floatRows(b0..<b1, scratch: ts.keyTile)
            let v = shared ? k : values.floatRows(b0..<b1, scratch: ts.valueTile)
            let kw = keys.width, vw = values.width
            if packedScores {
                transposeKeys(k, keyStride: kw, keys: n, keyDim: kd, into: ts.transposedKeys)
                for p in 0..<panels {
                    for c in stride(from: 0, to: keyBlock, by: GEMM.tileRows) {
                        GEMM.microkernel(ts.queryPanels + p * kd * lanes, ts.transposedKeys + c, ldb: keyBlock, kc: kd,
                                         scores + p * lanes * keyBlock + c, ldc: keyBlock, accumulate: false, prefetch: (nil, nil))
                    }
                }
            } else if keyRowScores {
                keyRowScoreTile(k, keyStride: kw, keys: n, keyDim: kd, queryColumns: ts.queryPanels, queryBlocks: queryBlocks,
                                transposed: ts.transposedKeys, queries: count, scores: scores)
            } else {
                for q0 in stride(from: 0, to: count, by: 3) {
                    let rows = Swift.min(3, count - q0)
                    let q = (query(q0), query(q0 + Swift.min(1, rows - 1)), query(q0 + rows - 1))
                    for j0 in stride(from: 0, to: n, by: 4) {
                        scoreBlock(q, queries: rows, k + j0 * kw, keyStride: kw, keys: Swift.min(4, n - j0), keyDim: kd,
                                   out: scores + q0 * keyBlock + j0, ldo: keyBlock)
                    }
                }
            }
            for qi in 0..<count {
                let visible = shape.visible(tokens.lowerBound + qi / g)
                let j0 = Swift.max(b0, visible.lowerBound) - b0, j1 = Swift.min(b1, visible.upperBound) - b0
                let probabilities = pp + (qi / lanes) * keyBlock * lanes + qi % lanes
                guard j0 < j1 else {
                    for j in 0..<n { probabilities[j &* lanes] = 0 }
                    continue
                }
                let row = scores + qi * keyBlock
                let factor = OnlineSoftmax.absorb(row + j0, j1 - j0, into: &states[qi])
                if factor != 1 {
                    let acc = ts.accumulators + qi * dv
                    VectorOps.scale(acc, factor, acc, dv)
                }
                for j in 0..<n { probabilities[j &* lanes] = j >= j0 && j < j1 ? row[j] : 0 }
            }
            // Columns outer: a column block of the tile's values (32 keys x tileRows, 4 KB) stays
            // in L1 for every panel, where panels outer streamed the whole tile from L2 per panel.
            for c in stride(from: 0, to: dv, by: GEMM.tileRows) {
                for p in 0..<panels {
                    GEMM.microkernel(pp + p * keyBlock * lanes, v + c, ldb: vw, kc: n,
                                     ts.accumulators + p * lanes * dv + c, ldc: dv, accumulate: true, prefetch: (nil, nil))
                }
            }
            b0 = b1
        }
    }

    /// Items with at least this many queries (prefill) compute scores on the microkernel with the
    /// tile's keys transposed; fewer (decode: 8-12 GQA heads, 32 MLA heads) would pay the
    /// transposition for too few (see `keyRowScoreTile`).
    static let packedScoreQueries = 48

    /// Depth steps per pass of `keyRowScoreTile`: Qᵀ's slice (128 x 32 floats, 16 KB with AVX-512)
    /// stays in L1 while every key panel of the tile runs over it.
    static let scoreDepthBlock = 4096 / GEMM.tileRows

    /// scores [query][keyBlock] = Q · Kᵀ for one tile of `keys` key rows (at k + j * keyStride),
    /// computed as Sᵀ [keys rounded up to 6][queryBlocks * tileRows] = K · Qᵀ on the microkernel
    /// with the key rows read in place (6 keys a call, missing keys repeating the last), Qᵀ packed
    /// [block][keyDim][tileRows] (`queryColumns`), depth in blocks of `scoreDepthBlock`; then Sᵀ
    /// transposed into the scores. The 3x4 `scoreBlock` form loads a key chunk per 3 FMAs and, with
    /// MLA's 74 KB tile and 74 KB of queries out of L1, ran at the L2's rate (about 60% of peak).
    static func keyRowScoreTile(_ k: UnsafePointer<Float>, keyStride: Int, keys: Int, keyDim: Int,
                                queryColumns: UnsafePointer<Float>, queryBlocks: Int,
                                transposed: UnsafeMutablePointer<Float>, queries: Int,
                                scores: UnsafeMutablePointer<Float>) {
        let width = GEMM.tileRows, ldS = queryBlocks * width
        @inline(__always) func row(_ j: Int, _ d: Int) -> UnsafePointer<Float> {
            k + Swift.min(j, keys - 1) * keyStride + d
        }
        var d0 = 0
        while d0 < keyDim {
            let depth = Swift.min(scoreDepthBlock, keyDim - d0)
            for block in 0..<queryBlocks {
                let qt = queryColumns + (block * keyDim + d0) * width
                for j0 in stride(from: 0, to: keys, by: GEMM.tileTokens) {
                    GEMM.microkernel(rows: (row(j0, d0), row(j0 + 1, d0), row(j0 + 2, d0), row(j0 + 3, d0),
                                            row(j0 + 4, d0), row(j0 + 5, d0)),
                                     qt, ldb: width, kc: depth, transposed + j0 * ldS + block * width, ldc: ldS,
                                     accumulate: d0 > 0)
                }
            }
            d0 += depth
        }
        GEMM.transpose(transposed, srcStride: ldS, rows: keys, cols: queries, scores, dstStride: keyBlock)
    }

    /// out [keyDim][keyBlock] = the first `keyDim` values of `keys` rows at k + j * keyStride,
    /// transposed (`GEMM.transpose`); columns past `keys` are zero.
    static func transposeKeys(_ k: UnsafePointer<Float>, keyStride: Int, keys: Int, keyDim: Int,
                              into out: UnsafeMutablePointer<Float>) {
        GEMM.transpose(k, srcStride: keyStride, rows: keys, cols: keyDim, out, dstStride: keyBlock)
        guard keys < keyBlock else { return }
        for i in 0..<keyDim { (out + i * keyBlock + keys).update(repeating: 0, count: keyBlock - keys) }
    }

    /// out[i * ldo + j] = q_i · k_j for `queries` (<= 3) queries and `keys` (<= 4) keys at
    /// k + j * keyStride, keyDim a multiple of 8: twelve accumulators, each 8-value chunk of a key
    /// loaded once for the three queries, one horizontal sum per pair at the end. Missing queries
    /// repeat the last one (computed, not stored); missing keys repeat the last key.
    @inline(__always)
    static func scoreBlock(_ q: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>), queries: Int,
                           _ k: UnsafePointer<Float>, keyStride: Int, keys: Int, keyDim: Int,
                           out: UnsafeMutablePointer<Float>, ldo: Int) {
        typealias V = SIMD8<Float>
        let k0 = k, k1 = k + Swift.min(1, keys - 1) * keyStride
        let k2 = k + Swift.min(2, keys - 1) * keyStride, k3 = k + (keys - 1) * keyStride
        var a00 = V(), a01 = V(), a02 = V(), a03 = V()
        var a10 = V(), a11 = V(), a12 = V(), a13 = V()
        var a20 = V(), a21 = V(), a22 = V(), a23 = V()
        var i = 0
        while i < keyDim {
            let x0 = VectorOps.load(q.0, i), x1 = VectorOps.load(q.1, i), x2 = VectorOps.load(q.2, i)
            var y = VectorOps.load(k0, i)
            a00.addProduct(x0, y); a10.addProduct(x1, y); a20.addProduct(x2, y)
            y = VectorOps.load(k1, i)
            a01.addProduct(x0, y); a11.addProduct(x1, y); a21.addProduct(x2, y)
            y = VectorOps.load(k2, i)
            a02.addProduct(x0, y); a12.addProduct(x1, y); a22.addProduct(x2, y)
            y = VectorOps.load(k3, i)
            a03.addProduct(x0, y); a13.addProduct(x1, y); a23.addProduct(x2, y)
            i &+= 8
        }
        let sums = (SIMD4(a00.sum(), a01.sum(), a02.sum(), a03.sum()), SIMD4(a10.sum(), a11.sum(), a12.sum(), a13.sum()),
                    SIMD4(a20.sum(), a21.sum(), a22.sum(), a23.sum()))
        for j in 0..<keys {
            out[j] = sums.0[j]
            if queries > 1 { out[ldo + j] = sums.1[j] }
            if queries > 2 { out[2 * ldo + j] = sums.2[j] }
        }
    }

    /// Streams keys `keyRange` of one KV head through the softmax states and accumulators of the
    /// queries of tokens `tokens`, one query at a time.
    static func attendRangePerQuery(queries: UnsafePointer<Float>, shape: Shape, kvHead: Int, tokens: Range<Int>,
                            keyRange: Range<Int>, keys: KVCache, values: KVCache, shared: Bool,
                            states: inout [SoftmaxPartial], ts: AttentionScratch.ThreadBuffers) {
        let g = shape.group, dv = shape.valueDim, kd = shape.keyDim
        var b0 = keyRange.lowerBound
        while b0 < keyRange.upperBound {
            let b1 = keys.contiguousEnd(from: b0, limit: Swift.min(keyRange.upperBound, b0 + keyBlock))
            let k = keys.floatRows(b0..<b1, scratch: ts.keyTile)
            let v = shared ? k : values.floatRows(b0..<b1, scratch: ts.valueTile)
            let kw = keys.width, vw = values.width
            for t in tokens {
                let visible = shape.visible(t)
                let j0 = Swift.max(b0, visible.lowerBound), j1 = Swift.min(b1, visible.upperBound)
                if j0 >= j1 { continue }
                let n = j1 - j0
                for hq in 0..<g {
                    let qi = (t - tokens.lowerBound) * g + hq
                    let q = queries + (t * shape.qHeads + kvHead * g + hq) * kd
                    for j in 0..<n { ts.scores[j] = VectorOps.dot(q, k + (j0 - b0 + j) * kw, kd) }
                    let factor = OnlineSoftmax.absorb(ts.scores, n, into: &states[qi])
                    let acc = ts.accumulators + qi * dv
                    if factor != 1 { VectorOps.scale(acc, factor, acc, dv) }
                    VectorOps.accumulateRows(acc, weights: ts.scores, rows: v + (j0 - b0) * vw, stride: vw, count: n, dim: dv)
                }
            }
            b0 = b1
        }
    }
}

/// Per-thread tiles and accumulators for `CacheAttention`, grown on demand and reused.
public final class AttentionScratch: @unchecked Sendable {
    struct ThreadBuffers {
        var keyTile: UnsafeMutablePointer<Float>
        var valueTile: UnsafeMutablePointer<Float>
        /// Per-query form: one query's scores (32). Blocked form: S, [paddedQueries][32].
        var scores: UnsafeMutablePointer<Float>
        /// [paddedQueries][valueDim]
        var accumulators: UnsafeMutablePointer<Float>
        /// Blocked form (`CacheAttention.attendRangeBlocked`): P panels [paddedQueries][32].
        var probabilityPanels: UnsafeMutablePointer<Float>
        /// Blocked form with packed scores: the tile's keys transposed, [keyDim][32]; with scores
        /// from key rows (`CacheAttention.keyRowScoreTile`): Sᵀ, [36][queries rounded up to tileRows].
        var transposedKeys: UnsafeMutablePointer<Float>
        /// Blocked form with packed scores: the item's queries in 6-query panels, [panel][keyDim][6];
        /// with scores from key rows: Qᵀ, [block][keyDim][tileRows].
        var queryPanels: UnsafeMutablePointer<Float>
    }

    /// Queries rounded up to whole panels of the microkernel (6).
    static func paddedQueries(_ queries: Int) -> Int { (queries + GEMM.tileTokens - 1) / GEMM.tileTokens * GEMM.tileTokens }

    private var perThread: [AlignedBuffer] = []
    private var layout = (keyTile: 0, valueTile: 0, scores: 0, accumulators: 0, queryPanels: 0, transposed: 0)
    private var partialBuffer = try! AlignedBuffer(byteCount: 0)

    public init() {}

    var partials: UnsafeMutablePointer<Float> { partialBuffer.pointer(to: Float.self) }

    func reserve(threads: Int, keyWidth: Int, valueWidth: Int, valueDim: Int, queries: Int, partials: Int) {
        let block = CacheAttention.keyBlock
        let padded = Self.paddedQueries(queries)
        // Qᵀ and Sᵀ of scores from key rows have columns rounded up to the microkernel's width.
        let columns = (queries + GEMM.tileRows - 1) / GEMM.tileRows * GEMM.tileRows
        let keyPanelRows = (block + GEMM.tileTokens - 1) / GEMM.tileTokens * GEMM.tileTokens
        let want = (keyTile: block * keyWidth, valueTile: block * valueWidth, scores: padded * block,
                    accumulators: padded * valueDim, queryPanels: Swift.max(padded, columns) * keyWidth,
                    transposed: Swift.max(block * keyWidth, keyPanelRows * columns))
        if perThread.count < threads || want.keyTile > layout.keyTile || want.valueTile > layout.valueTile
            || want.scores > layout.scores || want.accumulators > layout.accumulators || want.queryPanels > layout.queryPanels
            || want.transposed > layout.transposed {
            layout = (Swift.max(want.keyTile, layout.keyTile), Swift.max(want.valueTile, layout.valueTile),
                      Swift.max(want.scores, layout.scores), Swift.max(want.accumulators, layout.accumulators),
                      Swift.max(want.queryPanels, layout.queryPanels), Swift.max(want.transposed, layout.transposed))
            // The probability panels are as large as the scores.
            let floats = layout.keyTile + layout.valueTile + 2 * layout.scores + layout.accumulators + layout.queryPanels
                + layout.transposed
            perThread = (0..<threads).map { _ in try! AlignedBuffer(byteCount: floats * 4 + 7 * 64) }
        }
        if partialBuffer.byteCount < partials * 4 { partialBuffer = try! AlignedBuffer(byteCount: partials * 4) }
    }

    func threadBuffers(_ thread: Int) -> ThreadBuffers {
        let base = perThread[thread].pointer(to: Float.self)
        // Each region starts on a 64-byte boundary (16 floats).
        func rounded(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        let k = base, v = k + rounded(layout.keyTile), s = v + rounded(layout.valueTile), a = s + rounded(layout.scores)
        let p = a + rounded(layout.accumulators), t = p + rounded(layout.scores), q = t + rounded(layout.transposed)
        return ThreadBuffers(keyTile: k, valueTile: v, scores: s, accumulators: a, probabilityPanels: p,
                             transposedKeys: t, queryPanels: q)
    }
}
