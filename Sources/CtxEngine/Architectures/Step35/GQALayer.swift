/// Step-3.5-Flash's grouped-query attention, full or sliding-window.
///
///   q = W_q x [heads][128], k = W_k x [kvHeads][128], v = W_v x [kvHeads][128]
///   q, k = RMSNorm per head (weights shared by heads); partial RoPE (NeoX pairing): full layers
///          rotate 64 of 128 dims with theta 5e6, sliding layers all 128 with theta 1e4
///   attention: query head h reads KV head h / (heads / kvHeads); sliding layers see the last 512
///   o_h *= sigmoid((W_g x)[h])      head-wise output gate
///   y = W_o concat_h(o_h)
final class GQALayer {
    let layer: Int
    let heads: Int, kvHeads: Int, dim: Int, window: Int?, eps: Float
    let rope: RoPE
    let wq: Tensor, wk: Tensor, wv: Tensor, wg: Tensor, wo: Tensor, qNorm: Tensor, kNorm: Tensor
    let q: FloatBuffer, k: FloatBuffer, v: FloatBuffer, gate: FloatBuffer, attended: FloatBuffer

    init(weights: ModelWeights, layer index: Int, maxBatch: Int) throws {
        let c = weights.config
        let mixer = c.mixer(ofLayer: index)
        layer = index
        heads = c.gqaHeads(mixer); kvHeads = c.kvHeads; dim = c.headDim; eps = c.normEps
        window = mixer == .gqaSliding ? c.slidingWindow : nil
        rope = mixer == .gqaSliding ? RoPE(rotaryDims: c.slidingRotaryDims, theta: c.slidingRopeTheta)
                                    : RoPE(rotaryDims: c.fullRotaryDims, theta: c.fullRopeTheta)
        func t(_ name: String) -> Tensor { weights.layerTensor(index, name) }
        wq = t("attn_q.weight"); wk = t("attn_k.weight"); wv = t("attn_v.weight"); wg = t("attn_gate.weight")
        wo = t("attn_output.weight"); qNorm = t("attn_q_norm.weight"); kNorm = t("attn_k_norm.weight")
        let h = c.gqaHeads(mixer)
        q = try FloatBuffer(maxBatch * h * c.headDim)
        k = try FloatBuffer(maxBatch * c.kvHeads * c.headDim)
        v = try FloatBuffer(maxBatch * c.kvHeads * c.headDim)
        gate = try FloatBuffer(maxBatch * h)
        attended = try FloatBuffer(maxBatch * h * c.headDim)
    }

    func forward(_ x: UnsafePointer<Float>, tokens: Int, _ out: UnsafeMutablePointer<Float>, keys: [KVCache],
                 values: [KVCache], position: Int, ctx: EngineContext) {
        ctx.time(.gqaProjection, layer) {
            ctx.linear([(wq, x, q.p), (wk, x, k.p), (wv, x, v.p)], tokens: tokens)
        }
        ctx.time(.gqaNormRope, layer) {
            let qw = qNorm.data.assumingMemoryBound(to: Float.self), kw = kNorm.data.assumingMemoryBound(to: Float.self)
            let scale = 1 / Float(dim).squareRoot()
            for t in 0..<tokens {
                let qt = q.p + t * heads * dim, kt = k.p + t * kvHeads * dim
                for h in 0..<heads { VectorOps.rmsNorm(qt + h * dim, weight: qw, eps: eps, qt + h * dim, dim) }
                for h in 0..<kvHeads { VectorOps.rmsNorm(kt + h * dim, weight: kw, eps: eps, kt + h * dim, dim) }
                rope.apply(qt, heads: heads, headDim: dim, position: position + t)
                rope.apply(kt, heads: kvHeads, headDim: dim, position: position + t)
                VectorOps.scale(qt, scale, qt, heads * dim)
            }
        }
        ctx.time(.gqaCacheWrite, layer) {
            for t in 0..<tokens {
                for h in 0..<kvHeads {
                    keys[h].write(k.p + (t * kvHeads + h) * dim, position: position + t)
                    values[h].write(v.p + (t * kvHeads + h) * dim, position: position + t)
                }
            }
        }
        ctx.time(.gqaAttention, layer) {
            let shape = CacheAttention.Shape(tokens: tokens, qHeads: heads, kvHeads: kvHeads, keyDim: dim, valueDim: dim,
                                             firstPosition: position, window: window)
            CacheAttention.run(queries: q.p, shape: shape, keys: keys, values: values, out: attended.p,
                               pool: ctx.pool, scratch: ctx.attention)
        }
        ctx.time(.gqaGate, layer) {
            ctx.linear(wg, x, tokens: tokens, gate.p)
            VectorOps.sigmoid(gate.p, gate.p, tokens * heads)
            for t in 0..<tokens {
                for h in 0..<heads {
                    let o = attended.p + (t * heads + h) * dim
                    VectorOps.scale(o, gate.p[t * heads + h], o, dim)
                }
            }
        }
        ctx.time(.gqaOutput, layer) { ctx.linear(wo, attended.p, tokens: tokens, out) }
    }
}
