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
/// Per tile, the item's scores and value sums are two small matrix products run on GEMM's 6x16
/// register-blocked microkernel (`attendRangeBlocked`): S (queries x 32 keys) = Q · Kᵀ with the
/// queries packed once per item and the tile's keys transposed once, then O += P · V straight from
/// the tile's rows. A query-by-query form (a dot per key, then a row sum per query) re-reads the
/// 74 KB MLA tile from L2 for every query and ran at about a third of the FMA peak. Value widths
/// that are not a multiple of 16 take that plain form (`attendRangePerQuery`).
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
                        keyDim: shape.keyDim, valueDim: shape.valueDim, queries: queriesPerBlock,
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
        if shape.valueDim % GEMM.tileRows == 0 {
            attendRangeBlocked(queries: queries, shape: shape, kvHead: kvHead, tokens: tokens, keyRange: keyRange,
                               keys: keys, values: values, shared: shared, states: &states, ts: ts)
        } else {
            attendRangePerQuery(queries: queries, shape: shape, kvHead: kvHead, tokens: tokens, keyRange: keyRange,
                                keys: keys, values: values, shared: shared, states: &states, ts: ts)
        }
    }

    /// The item's queries in panels of 6 (query qi = (t - t0) * g + head within the group):
    /// Q [panel][keyDim][6], zero past the last query, packed once per item and used by every tile.
    /// Per tile of n <= 32 keys:
    ///   Kᵀ [keyDim][32]           the tile's keys transposed, zero past n
    ///   S  [panel * 6][32]        = Q · Kᵀ (microkernel, one call per panel and 16 keys)
    ///   P  [panel][32][6]         exp(S - running max) of each query's visible keys, 0 elsewhere
    ///   O  [panel * 6][valueDim] += P · V, V the tile's rows as they lie (ldb = value row width)
    /// Accumulators hold `AttentionScratch.paddedQueries` rows, so padded queries need no edge case.
    static func attendRangeBlocked(queries: UnsafePointer<Float>, shape: Shape, kvHead: Int, tokens: Range<Int>,
                                   keyRange: Range<Int>, keys: KVCache, values: KVCache, shared: Bool,
                                   states: inout [SoftmaxPartial], ts: AttentionScratch.ThreadBuffers) {
        let g = shape.group, dv = shape.valueDim, kd = shape.keyDim
        let lanes = GEMM.tileTokens, keyLanes = GEMM.tileRows
        let count = tokens.count * g
        let panels = (count + lanes - 1) / lanes
        let qp = ts.queryPanels, kt = ts.keyPanel, scores = ts.scores, pp = ts.probabilityPanels
        for qi in 0..<(panels * lanes) {
            let panel = qp + (qi / lanes) * kd * lanes, lane = qi % lanes
            if qi < count {
                let t = tokens.lowerBound + qi / g, h = kvHead * g + qi % g
                let q = queries + (t * shape.qHeads + h) * kd
                for d in 0..<kd { panel[d &* lanes &+ lane] = q[d] }
            } else {
                for d in 0..<kd { panel[d &* lanes &+ lane] = 0 }
            }
        }
        (ts.accumulators + count * dv).initialize(repeating: 0, count: (panels * lanes - count) * dv)
        pp.initialize(repeating: 0, count: panels * keyBlock * lanes)
        var b0 = keyRange.lowerBound
        while b0 < keyRange.upperBound {
            let b1 = keys.contiguousEnd(from: b0, limit: Swift.min(keyRange.upperBound, b0 + keyBlock))
            let n = b1 - b0
            let k = keys.floatRows(b0..<b1, scratch: ts.keyTile)
            let v = shared ? k : values.floatRows(b0..<b1, scratch: ts.valueTile)
            let kw = keys.width, vw = values.width
            let keyPanels = (n + keyLanes - 1) / keyLanes
            let width = keyPanels * keyLanes
            for j in 0..<width {
                if j < n {
                    let row = k + j * kw
                    for d in 0..<kd { kt[d &* keyBlock &+ j] = row[d] }
                } else {
                    for d in 0..<kd { kt[d &* keyBlock &+ j] = 0 }
                }
            }
            for p in 0..<panels {
                for half in 0..<keyPanels {
                    GEMM.microkernel(qp + p * kd * lanes, kt + half * keyLanes, ldb: keyBlock, kc: kd,
                                     scores + p * lanes * keyBlock + half * keyLanes, ldc: keyBlock, accumulate: false)
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
            for p in 0..<panels {
                for c in stride(from: 0, to: dv, by: keyLanes) {
                    GEMM.microkernel(pp + p * keyBlock * lanes, v + c, ldb: vw, kc: n,
                                     ts.accumulators + p * lanes * dv + c, ldc: dv, accumulate: true)
                }
            }
            b0 = b1
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
        /// Blocked form (`CacheAttention.attendRangeBlocked`): Q panels [paddedQueries][keyDim],
        /// Kᵀ [keyDim][32], P panels [paddedQueries][32].
        var queryPanels: UnsafeMutablePointer<Float>
        var keyPanel: UnsafeMutablePointer<Float>
        var probabilityPanels: UnsafeMutablePointer<Float>
    }

    /// Queries rounded up to whole panels of the microkernel (6).
    static func paddedQueries(_ queries: Int) -> Int { (queries + GEMM.tileTokens - 1) / GEMM.tileTokens * GEMM.tileTokens }

    private var perThread: [AlignedBuffer] = []
    private var layout = (keyTile: 0, valueTile: 0, scores: 0, accumulators: 0, queryPanels: 0, keyPanel: 0)
    private var partialBuffer = try! AlignedBuffer(byteCount: 0)

    public init() {}

    var partials: UnsafeMutablePointer<Float> { partialBuffer.pointer(to: Float.self) }

    func reserve(threads: Int, keyWidth: Int, valueWidth: Int, keyDim: Int, valueDim: Int, queries: Int, partials: Int) {
        let block = CacheAttention.keyBlock
        let padded = Self.paddedQueries(queries)
        let want = (keyTile: block * keyWidth, valueTile: block * valueWidth, scores: padded * block,
                    accumulators: padded * valueDim, queryPanels: padded * keyDim, keyPanel: keyDim * block)
        if perThread.count < threads || want.keyTile > layout.keyTile || want.valueTile > layout.valueTile
            || want.scores > layout.scores || want.accumulators > layout.accumulators
            || want.queryPanels > layout.queryPanels || want.keyPanel > layout.keyPanel {
            layout = (Swift.max(want.keyTile, layout.keyTile), Swift.max(want.valueTile, layout.valueTile),
                      Swift.max(want.scores, layout.scores), Swift.max(want.accumulators, layout.accumulators),
                      Swift.max(want.queryPanels, layout.queryPanels), Swift.max(want.keyPanel, layout.keyPanel))
            // The probability panels are as large as the scores.
            let floats = layout.keyTile + layout.valueTile + 2 * layout.scores + layout.accumulators
                + layout.queryPanels + layout.keyPanel
            perThread = (0..<threads).map { _ in try! AlignedBuffer(byteCount: floats * 4 + 7 * 64) }
        }
        if partialBuffer.byteCount < partials * 4 { partialBuffer = try! AlignedBuffer(byteCount: partials * 4) }
    }

    func threadBuffers(_ thread: Int) -> ThreadBuffers {
        let base = perThread[thread].pointer(to: Float.self)
        // Each region starts on a 64-byte boundary (16 floats).
        func rounded(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        let k = base, v = k + rounded(layout.keyTile), s = v + rounded(layout.valueTile), a = s + rounded(layout.scores)
        let q = a + rounded(layout.accumulators), kt = q + rounded(layout.queryPanels), p = kt + rounded(layout.keyPanel)
        return ThreadBuffers(keyTile: k, valueTile: v, scores: s, accumulators: a, queryPanels: q, keyPanel: kt,
                             probabilityPanels: p)
    }
}
