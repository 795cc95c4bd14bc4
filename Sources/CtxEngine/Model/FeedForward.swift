/// SwiGLU: W1 (gate) and W3 (up) [I][hidden], W2 (down) [hidden][I] (GGUF's ffn_gate, ffn_up,
/// ffn_down).  y = W2 (silu(W1 x) * W3 x), optionally clamped: silu(gate) at most `limit`, up
/// within ±limit (Step-3.5-Flash; llama.cpp's swiglu_clamp).
struct SwiGLU {
    let gate: Tensor, up: Tensor
    let down: Tensor
    let limit: Float?
    var intermediate: Int { down.cols }

    /// x [T][hidden] -> y [T][hidden]; gu: [T][2I] (gates, then ups) and act: [T][I] scratch.
    func apply(_ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>, gu: UnsafeMutablePointer<Float>,
               act: UnsafeMutablePointer<Float>, ctx: EngineContext) {
        let i = intermediate
        let ups = gu + tokens * i
        ctx.linear([(gate, x, gu), (up, x, ups)], tokens: tokens)
        ctx.pool.parallelFor(tokens) { range, _ in
            for t in range { VectorOps.swiglu(gate: gu + t * i, up: ups + t * i, limit: limit, act + t * i, i) }
        }
        ctx.linear(down, act, tokens: tokens, y)
    }
}

/// The leading dense layers' FFN.
final class DenseFFN {
    let layer: Int
    let mlp: SwiGLU
    let gu: FloatBuffer, act: FloatBuffer

    init(weights: ModelWeights, layer index: Int, maxBatch: Int) throws {
        layer = index
        mlp = SwiGLU(gate: weights.layerTensor(index, "ffn_gate.weight"), up: weights.layerTensor(index, "ffn_up.weight"),
                     down: weights.layerTensor(index, "ffn_down.weight"), limit: weights.config.sharedLimit(layer: index))
        gu = try FloatBuffer(maxBatch * 2 * mlp.intermediate)
        act = try FloatBuffer(maxBatch * mlp.intermediate)
    }

    func forward(_ x: UnsafePointer<Float>, tokens: Int, _ out: UnsafeMutablePointer<Float>, ctx: EngineContext) {
        ctx.time(.denseFFN, layer) { mlp.apply(x, tokens: tokens, out, gu: gu.p, act: act.p, ctx: ctx) }
    }
}

/// Sparse mixture of experts (both families):
///   s = sigmoid(W_router x)   (f32);  chosen = top_k(s + bias)   (bias only chooses)
///   w = s[chosen] / max(Σ s[chosen], 6.1e-5) * routedScale   (llama.cpp's renormalization; Step-3.5
///                                                           renormalizes only when its file says so)
///   y = Σ_e w_e SwiGLU_e(x) + SharedSwiGLU(x)
/// Prefill groups the micro-batch's tokens by expert, so each chosen expert's weights are read once
/// per micro-batch (a GEMM over its tokens, or GEMVs when it has only a few).
final class MoELayer {
    let layer: Int
    let experts: Int, topK: Int, hidden: Int, intermediate: Int, scale: Float
    let router: Tensor
    let bias: UnsafePointer<Float>
    let expertGate: Tensor, expertUp: Tensor, expertDown: Tensor
    let routedLimit: Float?
    let normalize: Bool
    let shared: SwiGLU?
    let logits: FloatBuffer        // [T][E] router scores
    let chosen: UnsafeMutablePointer<Int32>   // [T][k]
    let weights: FloatBuffer       // [T][k]
    let gathered: FloatBuffer      // [T][hidden]: one expert's tokens
    let gu: FloatBuffer, act: FloatBuffer, expertOut: FloatBuffer
    let chosenStorage: AlignedBuffer

    init(weights w: ModelWeights, layer index: Int, maxBatch: Int) throws {
        let c = w.config
        layer = index
        experts = c.experts; topK = c.expertsPerToken; hidden = c.hiddenSize; intermediate = c.expertIntermediate
        scale = c.routedScale; routedLimit = c.routedLimit(layer: index); normalize = c.normalizeExpertWeights
        router = w.layerTensor(index, "ffn_gate_inp.weight")
        bias = UnsafePointer(w.layerTensor(index, "exp_probs_b.bias").data.assumingMemoryBound(to: Float.self))
        expertGate = w.layerTensor(index, "ffn_gate_exps.weight")
        expertUp = w.layerTensor(index, "ffn_up_exps.weight")
        expertDown = w.layerTensor(index, "ffn_down_exps.weight")
        shared = c.sharedExperts > 0
            ? SwiGLU(gate: w.layerTensor(index, "ffn_gate_shexp.weight"), up: w.layerTensor(index, "ffn_up_shexp.weight"),
                     down: w.layerTensor(index, "ffn_down_shexp.weight"), limit: c.sharedLimit(layer: index))
            : nil
        let widest = max(c.expertIntermediate, c.sharedExperts * c.sharedIntermediate)
        // Rows of expert scratch: a micro-batch's tokens, or every (expert, token) slot of the
        // experts that get fewer than gemmMinimumTokens tokens, whichever is more.
        let slots = max(maxBatch, min(maxBatch * c.expertsPerToken, c.experts * (Linear.gemmMinimumTokens - 1)))
        logits = try FloatBuffer(maxBatch * c.experts)
        chosenStorage = try AlignedBuffer(byteCount: maxBatch * c.expertsPerToken * 4)
        chosen = chosenStorage.pointer(to: Int32.self)
        weights = try FloatBuffer(maxBatch * c.expertsPerToken)
        gathered = try FloatBuffer(maxBatch * c.hiddenSize)
        gu = try FloatBuffer(slots * 2 * widest)
        act = try FloatBuffer(slots * widest)
        expertOut = try FloatBuffer(slots * c.hiddenSize)
    }

    func forward(_ x: UnsafePointer<Float>, tokens: Int, _ out: UnsafeMutablePointer<Float>, ctx: EngineContext) {
        ctx.time(.routerMatmul, layer) { ctx.linear(router, x, tokens: tokens, logits.p) }
        ctx.time(.routerScoring, layer) { VectorOps.sigmoid(logits.p, logits.p, tokens * experts) }
        ctx.time(.routerTopK, layer) { route(tokens: tokens) }
        if let observer = ctx.routingObserver {
            var scores = [Float](repeating: 0, count: tokens * experts)
            for i in scores.indices { scores[i] = logits.p[i] + bias[i % experts] }
            scores.withUnsafeBufferPointer { observer(layer, tokens, $0) }
        }
        // Tokens per expert, in token order: the dispatch plan.
        let plan: [[Int32]] = ctx.time(.moeDispatch, layer) {
            var lists = [[Int32]](repeating: [], count: experts)
            for t in 0..<tokens {
                for j in 0..<topK { lists[Int(chosen[t * topK + j])].append(Int32(t * topK + j)) }
            }
            return lists
        }
        ctx.time(.sharedExpert, layer) {
            if let shared {
                shared.apply(x, tokens: tokens, out, gu: gu.p, act: act.p, ctx: ctx)
            } else {
                out.initialize(repeating: 0, count: tokens * hidden)
            }
        }
        ctx.time(.expertFFN, layer) {
            let rows = 2 * intermediate
            func gate(_ e: Int) -> Tensor { expertGate.rows(e * intermediate..<(e + 1) * intermediate) }
            func up(_ e: Int) -> Tensor { expertUp.rows(e * intermediate..<(e + 1) * intermediate) }
            func down(_ e: Int) -> Tensor { expertDown.rows(e * hidden..<(e + 1) * hidden) }
            // Experts with few tokens (all of them in decode): every (expert, token) product in one
            // batched GEMV region for gate/up and one for down.
            var few: [(expert: Int, slot: Int32)] = []
            for e in 0..<experts where !plan[e].isEmpty {
                let slots = plan[e]
                if slots.count < Linear.gemmMinimumTokens {
                    few += slots.map { (e, $0) }
                    continue
                }
                // An expert's slots are distinct tokens, so threads gather and add back disjoint rows.
                let gathered = gathered.p, expertOut = expertOut.p, weights = weights.p
                ctx.pool.parallelFor(slots.count) { range, _ in
                    for n in range { (gathered + n * hidden).update(from: x + Int(slots[n]) / topK * hidden, count: hidden) }
                }
                let mlp = SwiGLU(gate: gate(e), up: up(e), down: down(e), limit: routedLimit)
                mlp.apply(gathered, tokens: slots.count, expertOut, gu: gu.p, act: act.p, ctx: ctx)
                ctx.pool.parallelFor(slots.count) { range, _ in
                    for n in range {
                        let slot = Int(slots[n])
                        VectorOps.axpy(weights[slot], expertOut + n * hidden, out + slot / topK * hidden, hidden)
                    }
                }
            }
            guard !few.isEmpty else { return }
            var products: [(Tensor, UnsafePointer<Float>, UnsafeMutablePointer<Float>)] = []
            products.reserveCapacity(2 * few.count)
            for (n, item) in few.enumerated() {
                let input = x + Int(item.slot) / topK * hidden, output = gu.p + n * rows
                products.append((gate(item.expert), input, output))
                products.append((up(item.expert), input, output + intermediate))
            }
            ctx.linear(products, tokens: 1)
            for n in few.indices {
                VectorOps.swiglu(gate: gu.p + n * rows, up: gu.p + n * rows + intermediate, limit: routedLimit,
                                 act.p + n * intermediate, intermediate)
            }
            ctx.linear(few.enumerated().map { n, item in
                (down(item.expert), UnsafePointer(act.p + n * intermediate), expertOut.p + n * hidden)
            }, tokens: 1)
            for (n, item) in few.enumerated() {
                VectorOps.axpy(weights.p[Int(item.slot)], expertOut.p + n * hidden, out + Int(item.slot) / topK * hidden, hidden)
            }
        }
    }

    /// Top-k by s + bias; weights from s, renormalized and scaled.
    func route(tokens: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: experts) { biased in
            for t in 0..<tokens {
                let s = logits.p + t * experts
                for e in 0..<experts { biased[e] = s[e] + bias[e] }
                let idx = chosen + t * topK
                TopK.select(biased.baseAddress!, experts, k: topK, into: idx)
                var sum: Float = 0
                for j in 0..<topK { sum += s[Int(idx[j])] }
                let norm = normalize ? scale / max(sum, 6.103515625e-5) : scale
                for j in 0..<topK { weights.p[t * topK + j] = s[Int(idx[j])] * norm }
            }
        }
    }
}
