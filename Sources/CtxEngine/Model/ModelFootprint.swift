import Foundation

/// What a model costs in memory and in bytes read per token, computed from its tensor list and
/// cache layout (no allocation: works for the 196B model on a laptop).
public struct ModelFootprint: Sendable, Equatable {
    /// All parameters (every expert; the embedding table and LM head included).
    public var totalParameters: Int
    /// Parameters one token uses: routed experts count expertsPerToken/experts of their tensors and
    /// the embedding table one row (a lookup, not a product).
    public var activeParameters: Int
    /// Bytes of all weights, by storage type.
    public var weightBytesByType: [DType: Int]
    /// Bytes of weights a decode step reads (the active parameters in their storage types).
    public var activeWeightBytes: Int
    /// Bytes of all routed experts' weights (part of weightBytesByType).
    public var expertWeightBytes: Int
    public var expertsPerToken: Int
    public var experts: Int
    /// Cache bytes added per token of context (MLA latent rows, full-attention K and V).
    public var kvBytesPerToken: Double
    /// Fixed state: KDA recurrent and conv states.
    public var fixedStateBytes: Int
    /// Sliding-window layers: bytes of one token's K and V rows over all of them, and the window.
    /// A decode step reads min(depth, window) such rows; the engine allocates a ring of
    /// window + micro-batch rows per layer (every key a query of a micro-batch sees stays present).
    public var slidingRowBytes: Double = 0
    public var slidingWindow: Int = 0

    public var weightBytes: Int { weightBytesByType.values.reduce(0, +) }

    /// Expected weight bytes one micro-batch of `tokens` tokens reads: every non-expert tensor once
    /// (the embedding as one row per token), and each routed expert as the engine runs it: once (a
    /// GEMM) when at least `Linear.gemmMinimumTokens` tokens chose it, else once per token that
    /// did (a GEMV each). An expert's token count is Binomial(T, k/E) for k of E experts per token,
    /// so an expert is read on average P(j >= 1) + Σ_{j=2}^{m-1} (j - 1) P(j) times.
    public func weightBytesRead(tokens: Int) -> Double {
        let nonExpert = Double(activeWeightBytes) - Double(expertWeightBytes) * Double(expertsPerToken) / Double(max(experts, 1))
        guard experts > 0 else { return nonExpert }
        return nonExpert + Double(expertWeightBytes) * Self.expectedExpertReads(tokens: tokens, chosen: expertsPerToken, of: experts)
    }

    /// Times one routed expert's weights are read in a micro-batch of `tokens` tokens (see
    /// `weightBytesRead`).
    static func expectedExpertReads(tokens: Int, chosen: Int, of experts: Int) -> Double {
        let p = Double(chosen) / Double(experts)
        var reads = 1 - pow(1 - p, Double(tokens))  // chosen by any token
        // P(j) = C(T, j) p^j (1-p)^(T-j), for the few j below the GEMM threshold.
        var binomial = 1.0  // C(T, j)
        for j in 1..<max(Linear.gemmMinimumTokens, 1) where j <= tokens {
            binomial *= Double(tokens - j + 1) / Double(j)
            if j >= 2 { reads += Double(j - 1) * binomial * pow(p, Double(j)) * pow(1 - p, Double(tokens - j)) }
        }
        return reads
    }

    /// Cache and state bytes a token reads at `depth` tokens of context: the linear caches up to the
    /// depth, the sliding windows up to min(depth, window), the fixed states.
    public func contextBytes(depth: Int) -> Double {
        kvBytesPerToken * Double(depth) + slidingRowBytes * Double(min(depth, slidingWindow)) + Double(fixedStateBytes)
    }

    /// Bytes the engine allocates for the caches and states of `capacity` tokens with micro-batches
    /// of `microBatch` (InferenceState: linear caches of `capacity` rows, rings of window +
    /// micro-batch rows, capped at the capacity; fixed states).
    public func allocatedStateBytes(capacity: Int, microBatch: Int) -> (cache: Double, rings: Double, fixed: Double) {
        (kvBytesPerToken * Double(capacity), slidingRowBytes * Double(min(capacity, slidingWindow + microBatch)),
         Double(fixedStateBytes))
    }
}

extension ModelConfig {
    /// Footprint of the first `layers` layers (default all) plus embedding and LM head.
    public func footprint(recipe: WeightRecipe, cacheType: DType, layers: Int? = nil) -> ModelFootprint {
        let layerLimit = layers ?? layerCount
        var total = 0, active = 0, activeBytes = 0, expertBytes = 0
        var byType: [DType: Int] = [:]
        for spec in tensorSpecs(layers: layerLimit) {
            let type = recipe.type(for: spec, layerCount: layerCount)
            let bytes = spec.rows * type.rowBytes(spec.cols)
            total += spec.parameters
            byType[type, default: 0] += bytes
            if spec.role == .embedding {
                active += spec.cols
                activeBytes += type.rowBytes(spec.cols)
            } else if spec.experts > 1 {
                active += spec.parameters / spec.experts * expertsPerToken
                activeBytes += bytes / spec.experts * expertsPerToken
                expertBytes += bytes
            } else {
                active += spec.parameters
                activeBytes += bytes
            }
        }
        let cacheBytesPerValue = Double(cacheType.blockBytes) / Double(cacheType.blockValues)
        var perToken = 0.0, fixed = 0, slidingRow = 0.0
        for i in 0..<layerLimit {
            switch mixer(ofLayer: i) {
            case .kda:
                let d = kdaHeads * kdaHeadDim
                fixed += (kdaHeads * kdaHeadDim * kdaHeadDim + 3 * (kdaConvKernel - 1) * d) * 4
            case .mla:
                perToken += Double(kvLoraRank + qkRopeDim) * cacheBytesPerValue
            case .gqaFull:
                perToken += Double(2 * kvHeads * headDim) * cacheBytesPerValue
            case .gqaSliding:
                slidingRow += Double(2 * kvHeads * headDim) * cacheBytesPerValue
            }
        }
        return ModelFootprint(totalParameters: total, activeParameters: active, weightBytesByType: byType,
                              activeWeightBytes: activeBytes, expertWeightBytes: expertBytes,
                              expertsPerToken: expertsPerToken, experts: experts,
                              kvBytesPerToken: perToken, fixedStateBytes: fixed,
                              slidingRowBytes: slidingRow, slidingWindow: slidingRow > 0 ? slidingWindow : 0)
    }
}

extension ModelConfig {
    /// Floating-point operations (multiply and add counted separately) the engine performs for
    /// `tokens` tokens starting at context `depth`, in the first `layers` layers, fed in
    /// `forwardCalls` forward calls (default: one per token, as in decode): 2 per active weight per
    /// token (the embedding lookup excluded), except the LM head, which the engine runs once per
    /// forward call (the last token's logits only); plus attention over the cache as the engine
    /// computes it (MLA in the form `mlaForm` runs per micro-batch, `mlaAttentionFlops`: absorbed,
    /// 576-wide scores and 512-wide values per head and key; expanded, W_kb and W_vb per visible
    /// key instead of per token, then 192 + 128 per head and key; GQA: 128 + 128 per query head and
    /// visible key), plus the KDA recurrence (about 4 K x V multiply-adds per head and token).
    /// Micro-batches are the tokens cut into `forwardCalls` equal parts (the last one shorter).
    public func flops(tokens: Int, depth: Int, recipe: WeightRecipe, layers: Int? = nil, forwardCalls: Int? = nil,
                      mlaForm: MLAForm = .auto) -> Double {
        let limit = layers ?? layerCount
        let lmHead = vocabSize * hiddenSize
        let active = footprint(recipe: recipe, cacheType: .f32, layers: limit).activeParameters - hiddenSize - lmHead
        var total = 2 * Double(active) * Double(tokens) + 2 * Double(lmHead) * Double(min(forwardCalls ?? tokens, tokens))
        // Σ over the batch of visible keys: Σ_{i=1..n} (depth + i), capped at the window when sliding.
        func keys(window: Int?) -> Double {
            (1...max(tokens, 1)).reduce(0.0) { sum, i in sum + Double(min(depth + i, window ?? Int.max)) }
        }
        for i in 0..<limit {
            switch mixer(ofLayer: i) {
            case .kda:
                total += Double(tokens) * Double(kdaHeads) * 8 * Double(kdaHeadDim * kdaHeadDim)
            case .mla:
                // `active` counts W_kb and W_vb once per token; the form decides what really runs.
                total -= Double(tokens) * Double(mlaHeads) * 2 * Double(kvLoraRank) * Double(qkNopeDim + vHeadDim)
                let calls = max(1, min(forwardCalls ?? tokens, tokens))
                let batch = (tokens + calls - 1) / calls
                for start in stride(from: 0, to: tokens, by: max(batch, 1)) {
                    let queries = min(batch, tokens - start)
                    let form = self.mlaForm(mlaForm, queries: queries, position: depth + start)
                    total += mlaAttentionFlops(queries: queries, position: depth + start, expanded: form == .expanded || form == .naive)
                }
            case .gqaFull:
                total += keys(window: nil) * Double(fullHeads) * 2 * Double(2 * headDim)
            case .gqaSliding:
                total += keys(window: slidingWindow) * Double(slidingHeads) * 2 * Double(2 * headDim)
            }
        }
        return total
    }
}
