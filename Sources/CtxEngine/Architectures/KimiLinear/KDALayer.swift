/// Kimi Delta Attention: gated delta-rule linear attention with a fixed-size state per head.
///
/// Per token t and head h (K = V = headDim), x the normed hidden state:
///   q, k, v = silu(conv4(Wq x)), silu(conv4(Wk x)), silu(conv4(Wv x))    causal depthwise conv, kernel 4
///   g       = -exp(A_log[h]) * softplus(Wfb Wfa x + dt_bias)               per-channel log-decay (< 0)
///   beta    = sigmoid(Wb x)[h]
///   q, k    = l2norm(q), l2norm(k); q *= 1/sqrt(K)
///   S       = Diag(exp g) S;  S += beta k (v - Sᵀk)ᵀ;  o = Sᵀ q
///   o       = RMSNorm(o) * w_onorm * sigmoid(Wgb Wga x);  y = Wo concat_h(o)
/// Decode runs the recurrence token by token; prefill runs it in chunks of 16 (the chunked form
/// below, as llama.cpp's chunk size). L2 norm as llama.cpp's (build_gdn_l2_norm): x / sqrt(Σx² + eps)
/// with the model's RMS-norm epsilon (flash-linear-attention uses 1e-6; the files llama.cpp runs
/// carry 1e-5). A is read as GGUF stores it, -exp(A_log) per head.
final class KDALayer {
    static let chunk = 16

    let layer: Int
    let heads: Int, dim: Int, width: Int, kernel: Int, rank: Int, eps: Float
    let wq: Tensor, wk: Tensor, wv: Tensor, wfa: Tensor, wfb: Tensor, wb: Tensor, wga: Tensor, wgb: Tensor, wo: Tensor
    /// Conv kernels transposed to [kernel][width] per stream, so the conv vectorizes over channels.
    let convWeights: [FloatBuffer]
    let decayRate: [Float]  // exp(A_log[h]) = -A[h]
    let dtBias: Tensor, outputNorm: Tensor
    // Scratch for a micro-batch of up to maxBatch tokens.
    let raw: [FloatBuffer]       // q~, k~, v~: [T][width] each
    let qkv: [FloatBuffer]       // after conv + silu (+ l2 norm): [T][width] each
    let lowRank: FloatBuffer     // forget-gate then output-gate low-rank activations: 2 x [T][rank]
    let decay: FloatBuffer       // g: [T][width]
    let outGate: FloatBuffer     // [T][width]
    let beta: FloatBuffer        // [T][heads]
    let output: FloatBuffer      // o: [T][width]

    init(weights: ModelWeights, layer index: Int, maxBatch: Int) throws {
        let c = weights.config
        layer = index
        let heads = c.kdaHeads, dim = c.kdaHeadDim, width = heads * dim, kernel = c.kdaConvKernel, rank = c.kdaGateRank
        self.heads = heads; self.dim = dim; self.width = width; self.kernel = kernel; self.rank = rank
        eps = c.normEps
        func t(_ name: String) -> Tensor { weights.layerTensor(index, name) }
        wq = t("attn_q.weight"); wk = t("attn_k.weight"); wv = t("attn_v.weight"); wfa = t("ssm_f_a.weight")
        wfb = t("ssm_f_b.weight"); wb = t("ssm_beta.weight"); wga = t("ssm_g_a.weight"); wgb = t("ssm_g_b.weight")
        wo = t("attn_output.weight"); dtBias = t("ssm_dt.bias"); outputNorm = t("ssm_norm.weight")
        let a = t("ssm_a").data.assumingMemoryBound(to: Float.self)
        decayRate = (0..<heads).map { -a[$0] }
        convWeights = try ["ssm_conv1d_q.weight", "ssm_conv1d_k.weight", "ssm_conv1d_v.weight"].map { name in
            let w = t(name).data.assumingMemoryBound(to: Float.self)  // [width][kernel]
            let transposed = try FloatBuffer(kernel * width)
            for ch in 0..<width { for j in 0..<kernel { transposed.p[j * width + ch] = w[ch * kernel + j] } }
            return transposed
        }
        raw = try (0..<3).map { _ in try FloatBuffer(maxBatch * width) }
        qkv = try (0..<3).map { _ in try FloatBuffer(maxBatch * width) }
        lowRank = try FloatBuffer(2 * maxBatch * rank)
        decay = try FloatBuffer(maxBatch * width)
        outGate = try FloatBuffer(maxBatch * width)
        beta = try FloatBuffer(maxBatch * heads)
        output = try FloatBuffer(maxBatch * width)
    }

    /// x [T][hidden] (normed) -> out [T][hidden], advancing `state` by T tokens.
    func forward(_ x: UnsafePointer<Float>, tokens: Int, _ out: UnsafeMutablePointer<Float>, state: KDAState,
                 ctx: EngineContext) {
        ctx.time(.kdaProjection, layer) {
            ctx.linear([(wq, x, raw[0].p), (wk, x, raw[1].p), (wv, x, raw[2].p)], tokens: tokens)
        }
        ctx.time(.kdaConv, layer) {
            // Work items are (stream, block of convBlock tokens), so that two threads share the three
            // streams evenly (one item per stream left one thread a stream behind). Every block reads
            // the state (the inputs before the batch); it is replaced once all blocks are done.
            let blocks = (tokens + Self.convBlock - 1) / Self.convBlock
            ctx.pool.parallelFor(3 * blocks) { range, _ in
                for item in range {
                    let stream = item / blocks, first = item % blocks * Self.convBlock
                    let span = first..<min(first + Self.convBlock, tokens)
                    Self.causalConv(raw[stream].p, tokens: span, width: width, kernel: kernel, weights: convWeights[stream].p,
                                    history: state.convState(stream), out: qkv[stream].p)
                    let rows = qkv[stream].p + first * width
                    VectorOps.silu(rows, rows, span.count * width)
                }
            }
            for stream in 0..<3 {
                Self.advanceConvState(state.convState(stream), after: raw[stream].p, tokens: tokens, width: width, kernel: kernel)
            }
        }
        ctx.time(.kdaQKNorm, layer) {
            // Per-head L2 norm of q and k; q also takes the 1/sqrt(K) attention scale.
            let scale = 1 / Float(dim).squareRoot()
            ctx.pool.parallelFor(tokens) { range, _ in
                for t in range {
                    for h in 0..<heads {
                        let q = qkv[0].p + t * width + h * dim, k = qkv[1].p + t * width + h * dim
                        VectorOps.l2Normalize(q, eps: eps, q, dim)
                        VectorOps.scale(q, scale, q, dim)
                        VectorOps.l2Normalize(k, eps: eps, k, dim)
                    }
                }
            }
        }
        // Forget gate g = -exp(A_log) * softplus(Wfb Wfa x + dt_bias); beta = sigmoid(Wb x); output
        // gate sigmoid(Wgb Wga x). The projections (two batches: the three products of x, then the
        // two up-projections), then the activations.
        let lowRankGate = lowRank.p + tokens * rank
        ctx.time(.kdaGateProjection, layer) {
            ctx.linear([(wfa, x, lowRank.p), (wga, x, lowRankGate), (wb, x, beta.p)], tokens: tokens)
            ctx.linear([(wfb, UnsafePointer(lowRank.p), decay.p), (wgb, UnsafePointer(lowRankGate), outGate.p)], tokens: tokens)
        }
        ctx.time(.kdaGate, layer) {
            let bias = dtBias.data.assumingMemoryBound(to: Float.self)
            ctx.pool.parallelFor(tokens) { range, _ in
                for t in range {
                    let g = decay.p + t * width
                    VectorOps.axpy(1, bias, g, width)
                    VectorOps.softplus(g, g, width)
                    for h in 0..<heads { VectorOps.scale(g + h * dim, -decayRate[h], g + h * dim, dim) }
                }
                let b = beta.p + range.lowerBound * heads, gate = outGate.p + range.lowerBound * width
                VectorOps.sigmoid(b, b, range.count * heads)
                VectorOps.sigmoid(gate, gate, range.count * width)
            }
        }
        ctx.time(.kdaRecurrence, layer) {
            let inputs = KDAInputs(q: qkv[0].p, k: qkv[1].p, v: qkv[2].p, g: decay.p, beta: beta.p,
                                   o: output.p, heads: heads, dim: dim)
            ctx.pool.parallelFor(heads, schedule: .dynamic(chunk: 1)) { range, _ in
                for h in range {
                    Self.run(inputs, head: h, tokens: tokens, state: state.s + h * dim * dim, chunked: true)
                }
            }
        }
        ctx.time(.kdaOutputNorm, layer) {
            let w = outputNorm.data.assumingMemoryBound(to: Float.self)
            ctx.pool.parallelFor(tokens) { range, _ in
                for t in range {
                    for h in 0..<heads {
                        let o = output.p + t * width + h * dim
                        VectorOps.rmsNorm(o, weight: w, eps: eps, o, dim)
                    }
                }
            }
        }
        ctx.time(.kdaOutputGate, layer) { VectorOps.multiply(output.p, outGate.p, output.p, tokens * width) }
        ctx.time(.kdaOutput, layer) { ctx.linear(wo, output.p, tokens: tokens, out) }
    }

    /// Tokens per work item of the conv (see `forward`).
    static let convBlock = 16

    /// Depthwise causal conv of `width` channels for the batch's tokens `span` (rows span of `out`):
    /// out[t] = Σ_j w[j] * in[t - (kernel-1) + j], inputs before the batch coming from `history`
    /// (the previous kernel-1 inputs, oldest first), which this does not change (`advanceConvState`
    /// does, once every span of the batch is done). weights: [kernel][width].
    static func causalConv(_ input: UnsafePointer<Float>, tokens span: Range<Int>, width: Int, kernel: Int,
                           weights: UnsafePointer<Float>, history: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let past = kernel - 1
        for t in span {
            let o = out + t * width
            o.initialize(repeating: 0, count: width)
            for j in 0..<kernel {
                let s = t - past + j
                let row = s >= 0 ? input + s * width : history + (past + s) * width
                VectorOps.multiplyAdd(weights + j * width, row, o, width)
            }
        }
    }

    /// state (kernel-1 rows of `width`, oldest first) <- the last kernel-1 inputs once a batch of
    /// `tokens` inputs has followed it.
    static func advanceConvState(_ state: UnsafeMutablePointer<Float>, after input: UnsafePointer<Float>, tokens: Int,
                                 width: Int, kernel: Int) {
        let past = kernel - 1
        for r in 0..<past {
            let s = tokens - past + r
            if s >= 0 {
                (state + r * width).update(from: input + s * width, count: width)
            } else {
                (state + r * width).update(from: state + (r + tokens) * width, count: width)
            }
        }
    }

    struct KDAInputs {
        // Token t, head h: q/k/v/g/o at [t * heads*dim + h*dim], beta at [t * heads + h].
        var q, k, v, g, beta, o: UnsafeMutablePointer<Float>
        var heads: Int, dim: Int
        var width: Int { heads * dim }
    }

    /// One head over T tokens: whole chunks of 16 in the chunked form (when `chunked`), the rest
    /// token by token. S: [K][V] of this head.
    static func run(_ x: KDAInputs, head h: Int, tokens: Int, state s: UnsafeMutablePointer<Float>, chunked: Bool) {
        var t = 0
        if chunked {
            while t + chunk <= tokens {
                chunkStep(x, head: h, first: t, count: chunk, state: s)
                t += chunk
            }
        }
        while t < tokens {
            recurrentStep(x, head: h, token: t, state: s)
            t += 1
        }
    }

    /// The delta rule for one token: S = Diag(exp g) S; S += beta k (v - Sᵀk)ᵀ; o = Sᵀq.
    /// Two passes over S: decay while accumulating Sᵀk, then update while accumulating Sᵀq.
    static func recurrentStep(_ x: KDAInputs, head h: Int, token t: Int, state s: UnsafeMutablePointer<Float>) {
        let d = x.dim, off = t * x.width + h * d
        let q = x.q + off, k = x.k + off, v = x.v + off, o = x.o + off
        let b = x.beta[t * x.heads + h]
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * d) { buffer in
            let e = buffer.baseAddress!, delta = e + d
            VectorOps.exp(x.g + off, e, d)
            delta.initialize(repeating: 0, count: d)
            for r in 0..<d {
                let row = s + r * d
                VectorOps.scale(row, e[r], row, d)
                VectorOps.axpy(k[r], row, delta, d)  // delta = Sᵀk so far
            }
            // delta = beta (v - Sᵀk)
            for i in 0..<d { delta[i] = b * (v[i] - delta[i]) }
            o.initialize(repeating: 0, count: d)
            for r in 0..<d {
                let row = s + r * d
                VectorOps.axpy(k[r], delta, row, d)
                VectorOps.axpy(q[r], row, o, d)
            }
        }
    }

    /// The chunked (WY) form over C tokens, equal to C recurrent steps. With G_c the cumulative
    /// log-decay up to c (per key channel):
    ///   L[c,i] = beta_c Σ_d k_c k_i exp(G_c - G_i) (i < c);  w, u = (I + L)⁻¹ beta (exp(G) k), (I + L)⁻¹ beta v
    ///   v_new = u - w S;  o = (q exp(G)) S + A v_new with A[c,j] = Σ_d q_c k_j exp(G_c - G_j) (j <= c)
    ///   S = Diag(exp G_last) S + (exp(G_last - G) k)ᵀ v_new
    /// Every decay factor is a product of the tokens' exp(g) <= 1: exp(G_c - G_i) = exp(G_c -
    /// G_(i+1)) exp(g_(i+1)), walked down from i = c, so the chunk takes C x K exponentials, not
    /// one per pair and channel (they were a third of its time), and never forms exp(G_c) *
    /// exp(-G_i), which overflows when the decay is strong. The three products with the K x V
    /// state (w S, (q exp G) S and the update) run on GEMM's microkernel (`GEMM.multiplyRows`):
    /// row by row they read the 64 KB state from L2 once per token.
    static func chunkStep(_ x: KDAInputs, head h: Int, first t0: Int, count n: Int, state s: UnsafeMutablePointer<Float>) {
        let d = x.dim
        @inline(__always) func at(_ p: UnsafeMutablePointer<Float>, _ c: Int) -> UnsafeMutablePointer<Float> {
            p + (t0 + c) * x.width + h * d
        }
        let floats = 6 * n * d + 2 * n * n + 2 * d + GEMM.tileTokens * 2 * d
        withUnsafeTemporaryAllocation(of: Float.self, capacity: floats) { buffer in
            let decay = buffer.baseAddress!       // [n][d]: exp(g_c)
            let expG = decay + n * d              // [n][d]: exp(G_c), the running product
            let w = expG + n * d                  // [n][d]
            let u = w + n * d                     // [n][d] (V = K = d)
            let kT = u + n * d                    // [d][n]: exp(G_last - G_c) k_c, transposed
            let qg = kT + n * d                   // [n][d]: q_c exp(G_c)
            let L = qg + n * d                    // [n][n]
            let A = L + n * n                     // [n][n]
            let e = A + n * n                     // [d]: a running decay factor
            let kk = e + d                        // [d]: k_i exp(G_c - G_i)
            let scratch = kk + d                  // GEMM.multiplyRows' panel and tile
            for c in 0..<n { VectorOps.exp(at(x.g, c), decay + c * d, d) }
            expG.update(from: decay, count: d)
            for c in 1..<n { VectorOps.multiply(expG + (c - 1) * d, decay + c * d, expG + c * d, d) }
            // L and A: for each c, e = exp(G_c - G_i) from i = c down.
            for c in 0..<n {
                let kc = at(x.k, c), qc = at(x.q, c), bc = x.beta[(t0 + c) * x.heads + h]
                e.initialize(repeating: 1, count: d)
                for i in stride(from: c, through: 0, by: -1) {
                    if i < c { VectorOps.multiply(e, decay + (i + 1) * d, e, d) }
                    VectorOps.multiply(e, at(x.k, i), kk, d)
                    A[c * n + i] = VectorOps.dot(qc, kk, d)
                    if i < c { L[c * n + i] = bc * VectorOps.dot(kc, kk, d) }
                }
            }
            // Forward substitution: w_c = beta_c exp(G_c) k_c - Σ_{i<c} L[c,i] w_i, same for u with v.
            for c in 0..<n {
                let bc = x.beta[(t0 + c) * x.heads + h]
                let wc = w + c * d, uc = u + c * d
                VectorOps.multiply(expG + c * d, at(x.k, c), wc, d)
                VectorOps.scale(wc, bc, wc, d)
                VectorOps.scale(at(x.v, c), bc, uc, d)
                for i in 0..<c {
                    VectorOps.axpy(-L[c * n + i], w + i * d, wc, d)
                    VectorOps.axpy(-L[c * n + i], u + i * d, uc, d)
                }
            }
            // v_new = u - w S, in place in u (w negated in place first).
            VectorOps.scale(w, -1, w, n * d)
            GEMM.multiplyRows(w, lda: d, rows: n, kc: d, s, ldb: d, dim: d, u, ldo: d, accumulate: true, scratch: scratch)
            // o_c = (q_c exp G_c) S + Σ_{j<=c} A[c,j] v_new_j
            for c in 0..<n { VectorOps.multiply(at(x.q, c), expG + c * d, qg + c * d, d) }
            GEMM.multiplyRows(qg, lda: d, rows: n, kc: d, s, ldb: d, dim: d, at(x.o, 0), ldo: x.width, accumulate: false,
                              scratch: scratch)
            for c in 0..<n { VectorOps.accumulateRows(at(x.o, c), weights: A + c * n, rows: u, stride: d, count: c + 1, dim: d) }
            // S = Diag(exp G_last) S + Σ_c (exp(G_last - G_c) k_c)ᵀ v_new_c
            e.initialize(repeating: 1, count: d)
            for c in stride(from: n - 1, through: 0, by: -1) {
                if c < n - 1 { VectorOps.multiply(e, decay + (c + 1) * d, e, d) }
                let kc = at(x.k, c)
                for j in 0..<d { kT[j * n + c] = e[j] * kc[j] }
            }
            let last = expG + (n - 1) * d
            for r in 0..<d {
                let row = s + r * d
                VectorOps.scale(row, last[r], row, d)
            }
            GEMM.multiplyRows(kT, lda: n, rows: d, kc: n, u, ldb: d, dim: d, s, ldo: d, accumulate: true, scratch: scratch)
        }
    }
}
