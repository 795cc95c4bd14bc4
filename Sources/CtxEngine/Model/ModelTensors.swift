/// The tensors of a model, described without allocating them: names (GGUF-like), shapes, the role
/// that decides their storage type, and the scale of their synthetic values. `ctxbench models`
/// counts parameters from this list on models far larger than memory; `ModelWeights` allocates it.
public struct TensorSpec: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        // Always f32, as in GGUF files: norms, router, conv kernels, biases, decay parameters.
        case norm, router, routerBias, conv, decay
        // Matrices in the run's weight type (or what the recipe gives them).
        case embedding, output
        case attentionQ, attentionKV, attentionValue, attentionOut, attentionGate
        case ffnGateUp, ffnDown
        case expertGateUp, expertDown
    }

    public let name: String
    public let rows: Int
    public let cols: Int
    public let role: Role
    /// Layer index, or nil for embedding / output norm / LM head.
    public let layer: Int?
    /// Standard deviation of the synthetic values (for norms: the constant value).
    public let scale: Float
    /// Rows are `experts` stacked matrices of which a token uses `expertsPerToken`.
    public let experts: Int

    public var parameters: Int { rows * cols }

    /// True for the tensors GGUF files keep in f32 whatever the quantization.
    public var alwaysF32: Bool { [.norm, .router, .routerBias, .conv, .decay].contains(role) }
}

extension ModelConfig {
    /// Every tensor of the model, layer by layer, then embedding, output norm and LM head.
    public func tensorSpecs(layers: Int? = nil) -> [TensorSpec] {
        (0..<(layers ?? layerCount)).flatMap(layerTensorSpecs) + [
            TensorSpec(name: "token_embd", rows: vocabSize, cols: hiddenSize, role: .embedding, layer: nil, scale: 1, experts: 1),
            TensorSpec(name: "output_norm", rows: 1, cols: hiddenSize, role: .norm, layer: nil, scale: 1, experts: 1),
            TensorSpec(name: "output", rows: vocabSize, cols: hiddenSize, role: .output, layer: nil,
                       scale: inverseRoot(hiddenSize), experts: 1),
        ]
    }

    /// Tensors of layer `i`. Projections into the residual stream get half the usual scale so the
    /// stream grows slowly with depth (the synthetic model must stay finite through any depth).
    public func layerTensorSpecs(_ i: Int) -> [TensorSpec] {
        let h = hiddenSize
        func spec(_ name: String, _ rows: Int, _ cols: Int, _ role: TensorSpec.Role, scale: Float? = nil,
                  experts: Int = 1) -> TensorSpec {
            TensorSpec(name: "blk.\(i).\(name)", rows: rows, cols: cols, role: role, layer: i,
                       scale: scale ?? inverseRoot(cols), experts: experts)
        }
        var specs = [spec("attn_norm", 1, h, .norm, scale: 1)]
        switch mixer(ofLayer: i) {
        case .kda:
            let d = kdaHeads * kdaHeadDim
            specs += [
                spec("kda_q", d, h, .attentionQ), spec("kda_k", d, h, .attentionKV), spec("kda_v", d, h, .attentionValue),
                spec("kda_conv_q", d, kdaConvKernel, .conv, scale: 0.5),
                spec("kda_conv_k", d, kdaConvKernel, .conv, scale: 0.5),
                spec("kda_conv_v", d, kdaConvKernel, .conv, scale: 0.5),
                // Forget gate: hidden -> rank -> heads*headDim; small so the decay stays near dt.
                spec("kda_f_a", kdaGateRank, h, .attentionGate),
                spec("kda_f_b", d, kdaGateRank, .attentionGate, scale: 0.1 * inverseRoot(kdaGateRank)),
                spec("kda_a_log", 1, kdaHeads, .decay), spec("kda_dt_bias", 1, d, .decay),
                spec("kda_beta", kdaHeads, h, .attentionGate),
                spec("kda_g_a", kdaGateRank, h, .attentionGate), spec("kda_g_b", d, kdaGateRank, .attentionGate),
                spec("kda_o_norm", 1, kdaHeadDim, .norm, scale: 1),
                spec("kda_o", h, d, .attentionOut, scale: 0.5 * inverseRoot(d)),
            ]
        case .mla:
            let qk = qkNopeDim + qkRopeDim
            specs += [
                spec("attn_q", mlaHeads * qk, h, .attentionQ),
                spec("attn_kv_a", kvLoraRank + qkRopeDim, h, .attentionKV),
                spec("attn_kv_a_norm", 1, kvLoraRank, .norm, scale: 1),
                // W_kb per head stored transposed (llama.cpp's attn_k_b): rows h*rank + j hold column j
                // of head h's (qkNope x rank) key up-projection, so absorption q_abs = W_kb^T q_nope is
                // a matrix-vector product over rows.
                spec("attn_k_b", mlaHeads * kvLoraRank, qkNopeDim, .attentionKV, scale: inverseRoot(kvLoraRank)),
                // W_vb per head (vHeadDim x rank): the value up-projection.
                spec("attn_v_b", mlaHeads * vHeadDim, kvLoraRank, .attentionValue),
                spec("attn_o", h, mlaHeads * vHeadDim, .attentionOut, scale: 0.5 * inverseRoot(mlaHeads * vHeadDim)),
            ]
        case .gqaFull, .gqaSliding:
            let heads = gqaHeads(mixer(ofLayer: i))
            specs += [
                spec("attn_q", heads * headDim, h, .attentionQ),
                spec("attn_k", kvHeads * headDim, h, .attentionKV),
                spec("attn_v", kvHeads * headDim, h, .attentionValue),
                spec("attn_q_norm", 1, headDim, .norm, scale: 1),
                spec("attn_k_norm", 1, headDim, .norm, scale: 1),
                spec("attn_gate", heads, h, .attentionGate),
                spec("attn_o", h, heads * headDim, .attentionOut, scale: 0.5 * inverseRoot(heads * headDim)),
            ]
        }
        specs.append(spec("ffn_norm", 1, h, .norm, scale: 1))
        switch ffn(ofLayer: i) {
        case .dense:
            // Gate and up projections fused row-wise: rows 0..<I gate, I..<2I up (one GEMV per token).
            specs += [spec("ffn_gate_up", 2 * denseIntermediate, h, .ffnGateUp),
                      spec("ffn_down", h, denseIntermediate, .ffnDown, scale: 0.5 * inverseRoot(denseIntermediate))]
        case .moe:
            specs += [
                spec("ffn_router", experts, h, .router),
                spec("ffn_router_bias", 1, experts, .routerBias, scale: 0.01),
                spec("ffn_gate_up_exps", experts * 2 * expertIntermediate, h, .expertGateUp, experts: experts),
                spec("ffn_down_exps", experts * h, expertIntermediate, .expertDown,
                     scale: 0.5 * inverseRoot(expertIntermediate), experts: experts),
            ]
            if sharedExperts > 0 {
                let width = sharedExperts * sharedIntermediate
                specs += [spec("ffn_gate_up_shexp", 2 * width, h, .ffnGateUp),
                          spec("ffn_down_shexp", h, width, .ffnDown, scale: 0.5 * inverseRoot(width))]
            }
        }
        return specs
    }
}

@inline(__always)
func inverseRoot(_ n: Int) -> Float { 1 / Float(n).squareRoot() }
