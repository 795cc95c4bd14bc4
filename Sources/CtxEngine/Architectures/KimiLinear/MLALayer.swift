/// Multi-head latent attention as Kimi-Linear uses it: no q compression, no RoPE (NoPE: the 64
/// "rope" dims exist but are not rotated).
///
///   c_kv, k_pe = split(W_kv_a x)                 hidden -> 512 + 64; c_kv = RMSNorm(c_kv)
///   q          = W_q x                           hidden -> heads x (128 nope + 64 pe)
///   cache row  = [c_kv ; k_pe]                   576 values per token, shared by all heads
///   absorbed:  q_abs_h = W_kb_hᵀ q_nope_h (512);  s = (q_abs·c_kv + q_pe·k_pe) / sqrt(192)
///              latent_h = softmax(s) · c_kv (512);  o_h = W_vb_h latent_h (128)
///   naive:     k_nope_h = W_kb_h c_kv, v_h = W_vb_h c_kv per cached token; ordinary attention
///   y          = W_o concat_h(o_h)
/// Which form runs is `MLAForm` (MLAForms.swift): by default, per micro-batch, the cheaper of the
/// absorbed form and the naive form's math run as matrix products (`expanded`,
/// MLAExpandedAttention.swift); the textbook naive form is the reference the others are tested
/// against.
final class MLALayer {
    let layer: Int
    let config: ModelConfig
    let heads: Int, rank: Int, nope: Int, rope: Int, vDim: Int, eps: Float
    let wq: Tensor, wkva: Tensor, kvNorm: Tensor, wkb: Tensor, wvb: Tensor, wo: Tensor
    var qkDim: Int { nope + rope }
    var rowWidth: Int { rank + rope }
    let q: FloatBuffer          // [T][heads][nope + rope]
    let kv: FloatBuffer         // [T][rank + rope]
    let headIn: FloatBuffer     // [T][rank]: one head's q_nope (absorb) or latent (value up)
    let headOut: FloatBuffer    // [T][rank]
    let queries: FloatBuffer    // [T][heads][rank + rope]
    let latent: FloatBuffer     // [T][heads][rank]
    let attended: FloatBuffer   // [T][heads][vDim]
    /// W_kb per head for the expanded form ([heads x nope][rank] f32), built on its first use.
    lazy var keyUpByHead: Tensor = Self.keyUpWeights(wkb, heads: heads, rank: rank, nope: nope)

    init(weights: ModelWeights, layer index: Int, maxBatch: Int) throws {
        let c = weights.config
        layer = index
        config = c
        heads = c.mlaHeads; rank = c.kvLoraRank; nope = c.qkNopeDim; rope = c.qkRopeDim; vDim = c.vHeadDim; eps = c.normEps
        func t(_ name: String) -> Tensor { weights.layerTensor(index, name) }
        wq = t("attn_q.weight"); wkva = t("attn_kv_a_mqa.weight"); kvNorm = t("attn_kv_a_norm.weight")
        wkb = t("attn_k_b.weight"); wvb = t("attn_v_b.weight"); wo = t("attn_output.weight")
        let b = maxBatch
        q = try FloatBuffer(b * c.mlaHeads * (c.qkNopeDim + c.qkRopeDim))
        kv = try FloatBuffer(b * (c.kvLoraRank + c.qkRopeDim))
        headIn = try FloatBuffer(b * max(c.kvLoraRank, c.qkNopeDim))
        headOut = try FloatBuffer(b * max(c.kvLoraRank, c.vHeadDim))
        queries = try FloatBuffer(b * c.mlaHeads * (c.kvLoraRank + c.qkRopeDim))
        latent = try FloatBuffer(b * c.mlaHeads * c.kvLoraRank)
        attended = try FloatBuffer(b * c.mlaHeads * c.vHeadDim)
    }

    func forward(_ x: UnsafePointer<Float>, tokens: Int, _ out: UnsafeMutablePointer<Float>, cache: KVCache,
                 position: Int, form: MLAForm, ctx: EngineContext) {
        ctx.time(.mlaQProjection, layer) { ctx.linear(wq, x, tokens: tokens, q.p) }
        ctx.time(.mlaLatentDown, layer) {
            ctx.linear(wkva, x, tokens: tokens, kv.p)
            let w = kvNorm.data.assumingMemoryBound(to: Float.self)
            for t in 0..<tokens {
                let row = kv.p + t * rowWidth
                VectorOps.rmsNorm(row, weight: w, eps: eps, row, rank)
            }
        }
        ctx.time(.mlaCacheWrite, layer) {
            for t in 0..<tokens { cache.write(kv.p + t * rowWidth, position: position + t) }
        }
        switch config.mlaForm(form, queries: tokens, position: position) {
        case .absorbed: absorbedAttention(tokens: tokens, cache: cache, position: position, ctx: ctx)
        case .expanded: expandedAttention(tokens: tokens, cache: cache, position: position, ctx: ctx)
        case .naive: naiveAttention(tokens: tokens, cache: cache, position: position, ctx: ctx)
        }
        ctx.time(.mlaOutput, layer) { ctx.linear(wo, attended.p, tokens: tokens, out) }
    }

    /// Copies head h's `width` values at `offset` of each token's `stride`-wide row of `src` into
    /// a contiguous [T][width] `dst`, or back (`scatter`).
    @inline(__always)
    static func gather(_ src: UnsafeMutablePointer<Float>, stride: Int, offset: Int, width: Int, tokens: Int,
                       _ dst: UnsafeMutablePointer<Float>, scatter: Bool = false) {
        for t in 0..<tokens {
            let a = src + t * stride + offset, b = dst + t * width
            if scatter { a.update(from: b, count: width) } else { b.update(from: a, count: width) }
        }
    }

    func absorbedAttention(tokens: Int, cache: KVCache, position: Int, ctx: EngineContext) {
        let scale = 1 / Float(qkDim).squareRoot()
        ctx.time(.mlaAbsorb, layer) {
            // queries[t][h] = [W_kb_hᵀ q_nope ; q_pe] / sqrt(192)
            perHead(wkb, q.p, inStride: qkDim, queries.p, outStride: rowWidth, tokens: tokens, ctx: ctx)
            for t in 0..<tokens {
                for h in 0..<heads {
                    let dst = queries.p + (t * heads + h) * rowWidth
                    VectorOps.scale(dst, scale, dst, rank)
                    VectorOps.scale(q.p + (t * heads + h) * qkDim + nope, scale, dst + rank, rope)
                }
            }
        }
        ctx.time(.mlaAttention, layer) {
            let shape = CacheAttention.Shape(tokens: tokens, qHeads: heads, kvHeads: 1, keyDim: rowWidth, valueDim: rank,
                                             firstPosition: position, window: nil)
            CacheAttention.run(queries: queries.p, shape: shape, keys: [cache], values: [cache], out: latent.p,
                               pool: ctx.pool, scratch: ctx.attention)
        }
        ctx.time(.mlaValueUp, layer) {
            perHead(wvb, latent.p, inStride: rank, attended.p, outStride: vDim, tokens: tokens, ctx: ctx)
        }
    }

    /// out[t][h][0..<w.rows/heads] = W_h · in[t][h][0..<w.cols] for every token and head, W_h being
    /// head h's block of w's rows; in and out rows hold `heads` blocks of `inStride` / `outStride`
    /// values (W_kb: q_nope -> latent; W_vb: latent -> value). Decode: every head's product in one
    /// batched GEMV region, straight into place. Prefill: per head, its inputs gathered into a
    /// contiguous [T][w.cols], one GEMM, and the outputs scattered back.
    func perHead(_ w: Tensor, _ input: UnsafeMutablePointer<Float>, inStride: Int, _ output: UnsafeMutablePointer<Float>,
                 outStride: Int, tokens: Int, ctx: EngineContext) {
        let width = w.rows / heads
        if tokens < Linear.gemmMinimumTokens {
            for t in 0..<tokens {
                ctx.linear((0..<heads).map { h in
                    (w.rows(h * width..<(h + 1) * width), UnsafePointer(input + (t * heads + h) * inStride),
                     output + (t * heads + h) * outStride)
                }, tokens: 1)
            }
            return
        }
        for h in 0..<heads {
            Self.gather(input, stride: heads * inStride, offset: h * inStride, width: w.cols, tokens: tokens, headIn.p)
            ctx.linear(w.rows(h * width..<(h + 1) * width), headIn.p, tokens: tokens, headOut.p)
            Self.gather(output, stride: heads * outStride, offset: h * outStride, width: width, tokens: tokens, headOut.p,
                        scatter: true)
        }
    }

    /// The textbook form: expand every cached token's latent into per-head keys and values
    /// (`mla.kv_up`), then exact softmax attention (`mla.attention`), a dot product per query and
    /// key. The reference `absorbed` and `expanded` are tested against, not a fast path.
    func naiveAttention(tokens: Int, cache: KVCache, position: Int, ctx: EngineContext) {
        let n = position + tokens
        let scale = 1 / Float(qkDim).squareRoot()
        var rows = [Float](repeating: 0, count: n * rowWidth)
        var latents = [Float](repeating: 0, count: n * rank)
        var keys = [Float](repeating: 0, count: n * nope)
        var values = [Float](repeating: 0, count: n * vDim)
        var headKB = [Float](repeating: 0, count: rank * nope)
        var scores = [Float](repeating: 0, count: n)
        ctx.time(.mlaKVUp, layer) {
            rows.withUnsafeMutableBufferPointer { r in
                for j in 0..<n { cache.readRow(j, into: r.baseAddress! + j * rowWidth) }
                latents.withUnsafeMutableBufferPointer { l in
                    for j in 0..<n { (l.baseAddress! + j * rank).update(from: r.baseAddress! + j * rowWidth, count: rank) }
                }
            }
        }
        for h in 0..<heads {
            ctx.time(.mlaKVUp, layer) {
                // W_kb_h (nope x rank) from its stored transpose (rank x nope).
                let stored = wkb.rows(h * rank..<(h + 1) * rank)
                let kb = try! Tensor(type: .f32, rows: nope, cols: rank)
                headKB.withUnsafeMutableBufferPointer { t in
                    for j in 0..<rank { stored.type.format.dequantize(stored.row(j), t.baseAddress! + j * nope, count: nope) }
                    let dst = kb.data.assumingMemoryBound(to: Float.self)
                    for i in 0..<nope { for j in 0..<rank { dst[i * rank + j] = t[j * nope + i] } }
                }
                latents.withUnsafeBufferPointer { l in
                    keys.withUnsafeMutableBufferPointer { ctx.linear(kb, l.baseAddress!, tokens: n, $0.baseAddress!) }
                    values.withUnsafeMutableBufferPointer {
                        ctx.linear(wvb.rows(h * vDim..<(h + 1) * vDim), l.baseAddress!, tokens: n, $0.baseAddress!)
                    }
                }
            }
            ctx.time(.mlaAttention, layer) {
                for t in 0..<tokens {
                    let p = position + t
                    let qh = q.p + (t * heads + h) * qkDim
                    scores.withUnsafeMutableBufferPointer { s in
                        rows.withUnsafeBufferPointer { r in
                            keys.withUnsafeBufferPointer { k in
                                for j in 0...p {
                                    s[j] = (VectorOps.dot(qh, k.baseAddress! + j * nope, nope)
                                        + VectorOps.dot(qh + nope, r.baseAddress! + j * rowWidth + rank, rope)) * scale
                                }
                            }
                        }
                        VectorOps.softmax(s.baseAddress!, p + 1)
                        let o = attended.p + (t * heads + h) * vDim
                        o.initialize(repeating: 0, count: vDim)
                        values.withUnsafeBufferPointer { v in
                            VectorOps.accumulateRows(o, weights: s.baseAddress!, rows: v.baseAddress!, stride: vDim, count: p + 1, dim: vDim)
                        }
                    }
                }
            }
        }
    }
}
