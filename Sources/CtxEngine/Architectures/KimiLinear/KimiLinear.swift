/// Kimi-Linear (Moonshot AI): KDA linear attention with MLA on every fourth layer and on the last,
/// sparse MoE after leading dense layers. GGUF architecture "kimi-linear", read as llama.cpp's
/// loader reads it (src/models/kimi-linear.cpp): the per-layer KV head count says which layers are
/// KDA (0) and which MLA; A is stored as -exp(A_log); MLA's k_b and v_b are split per head.
public enum KimiLinear: ModelArchitecture {
    public static let ggufName = "kimi-linear"

    public static var presets: [ModelConfig] { [.kimiLinear48B, .kimiLinearMini] }

    public static func mixer(_ c: ModelConfig, layer i: Int) -> ModelConfig.LayerMixer {
        (i % c.attentionPeriod == c.attentionPeriod - 1 || i == c.layerCount - 1) ? .mla : .kda
    }

    public static func config(from file: GGUFFile) throws -> ModelConfig {
        let m = GGUFMetadata(file: file, prefix: ggufName)
        var c = try m.common(.kimiLinear48B)
        let heads = try m.perLayerIntegers("attention.head_count", layers: c.layerCount, 1...4096)
            ?? { throw m.fail("\(ggufName).attention.head_count", "missing") }()
        guard Set(heads).count == 1 else { throw m.fail("\(ggufName).attention.head_count", "differs between layers; this engine runs one head count") }
        let kv = try m.perLayerIntegers("attention.head_count_kv", layers: c.layerCount, 0...4096)
            ?? { throw m.fail("\(ggufName).attention.head_count_kv", "missing: it marks the KDA layers (0)") }()
        c.layerPattern = kv.map { $0 == 0 ? .kda : .mla }
        c.kdaHeads = heads[0]; c.mlaHeads = heads[0]
        c.kdaHeadDim = try m.integer("kda.head_dim", 1...4096)
        c.kdaConvKernel = try m.integer("ssm.conv_kernel", 2...64)
        if m.value("attention.q_lora_rank") != nil {
            throw GGUFError(file.path, "MLA with a compressed query (attention.q_lora_rank, attn_q_a) is not supported by this engine")
        }
        if c.layerPattern!.contains(.mla) {
            c.kvLoraRank = try m.integer("attention.kv_lora_rank", 1...65536)
            c.qkRopeDim = try m.integer("rope.dimension_count", 0...4096)
            c.qkNopeDim = try m.integer("attention.key_length_mla", 1...8192) - c.qkRopeDim
            c.vHeadDim = try m.integer("attention.value_length_mla", 1...8192)
            guard c.qkNopeDim >= 1 else { throw m.fail("\(ggufName).attention.key_length_mla", "not larger than rope.dimension_count") }
        }
        if let kda = c.layerPattern!.firstIndex(of: .kda) {
            c.kdaGateRank = try m.shape("blk.\(kda).ssm_f_a.weight").rows
        }
        try MoEMetadata.read(m, into: &c)
        guard let gating = try m.optionalInteger("expert_gating_func", 0...16), gating == 2 || c.experts == 0 else {
            throw m.fail("\(ggufName).expert_gating_func", "expected 2 (sigmoid), the only gating llama.cpp runs for kimi-linear")
        }
        c.normalizeExpertWeights = true
        c.routedSwigluLimit = nil; c.sharedSwigluLimit = nil
        try c.validate()
        return c
    }

    public static func mixerTensorSpecs(_ c: ModelConfig, layer i: Int) -> [TensorSpec] {
        let h = c.hiddenSize
        let spec = TensorSpec.layer(i)
        switch c.mixer(ofLayer: i) {
        case .kda:
            let d = c.kdaHeads * c.kdaHeadDim, rank = c.kdaGateRank
            return [
                spec("attn_q.weight", d, h, .attentionQ, nil, 1), spec("attn_k.weight", d, h, .attentionKV, nil, 1),
                spec("attn_v.weight", d, h, .attentionValue, nil, 1),
                // Depthwise conv kernels, one row of `kernel` taps per channel (GGUF [kernel, 1, d]).
                spec("ssm_conv1d_q.weight", d, c.kdaConvKernel, .conv, 0.5, 1),
                spec("ssm_conv1d_k.weight", d, c.kdaConvKernel, .conv, 0.5, 1),
                spec("ssm_conv1d_v.weight", d, c.kdaConvKernel, .conv, 0.5, 1),
                // Forget gate: hidden -> rank -> heads*headDim; small so the decay stays near dt.
                spec("ssm_f_a.weight", rank, h, .attentionGate, nil, 1),
                spec("ssm_f_b.weight", d, rank, .attentionGate, 0.1 * inverseRoot(rank), 1),
                // A = -exp(A_log) per head (GGUF stores it so), and dt_bias per channel.
                spec("ssm_a", c.kdaHeads, 1, .decay, nil, 1), spec("ssm_dt.bias", 1, d, .decay, nil, 1),
                spec("ssm_beta.weight", c.kdaHeads, h, .attentionGate, nil, 1),
                spec("ssm_g_a.weight", rank, h, .attentionGate, nil, 1), spec("ssm_g_b.weight", d, rank, .attentionGate, nil, 1),
                spec("ssm_norm.weight", 1, c.kdaHeadDim, .norm, 1, 1),
                spec("attn_output.weight", h, d, .attentionOut, 0.5 * inverseRoot(d), 1),
            ]
        case .mla:
            let qk = c.qkNopeDim + c.qkRopeDim
            return [
                spec("attn_q.weight", c.mlaHeads * qk, h, .attentionQ, nil, 1),
                spec("attn_kv_a_mqa.weight", c.kvLoraRank + c.qkRopeDim, h, .attentionKV, nil, 1),
                spec("attn_kv_a_norm.weight", 1, c.kvLoraRank, .norm, 1, 1),
                // W_kb per head stored transposed (GGUF [nope, rank, heads]): rows h*rank + j hold
                // column j of head h's (qkNope x rank) key up-projection, so absorption
                // q_abs = W_kbᵀ q_nope is a matrix-vector product over rows.
                spec("attn_k_b.weight", c.mlaHeads * c.kvLoraRank, c.qkNopeDim, .attentionKV, inverseRoot(c.kvLoraRank), 1),
                // W_vb per head (vHeadDim x rank; GGUF [rank, v, heads]): the value up-projection.
                spec("attn_v_b.weight", c.mlaHeads * c.vHeadDim, c.kvLoraRank, .attentionValue, nil, 1),
                spec("attn_output.weight", h, c.mlaHeads * c.vHeadDim, .attentionOut, 0.5 * inverseRoot(c.mlaHeads * c.vHeadDim), 1),
            ]
        case .gqaFull, .gqaSliding:
            preconditionFailure("kimi-linear has no GQA layers")
        }
    }
}

extension ModelConfig {
    /// Kimi-Linear-48B-A3B as published (HF config of moonshotai/Kimi-Linear-48B-A3B-Instruct).
    public static let kimiLinear48B = ModelConfig(
        name: "kimi-linear-48b-a3b", family: .kimiLinear, hiddenSize: 2304, layerCount: 27, vocabSize: 163_840,
        normEps: 1e-5, attentionPeriod: 4,
        kdaHeads: 32, kdaHeadDim: 128, kdaConvKernel: 4, kdaGateRank: 128,
        mlaHeads: 32, kvLoraRank: 512, qkNopeDim: 128, qkRopeDim: 64, vHeadDim: 128,
        fullHeads: 0, slidingHeads: 0, kvHeads: 0, headDim: 0, fullRotaryDims: 0, slidingRotaryDims: 0,
        fullRopeTheta: 0, slidingRopeTheta: 0, slidingWindow: 0,
        denseLayers: 1, denseIntermediate: 9216, experts: 256, expertsPerToken: 8, sharedExperts: 1,
        expertIntermediate: 1024, sharedIntermediate: 1024, routedScale: 2.446,
        routedSwigluLimit: nil, sharedSwigluLimit: nil, maxContext: 1_048_576)

    /// Kimi-Linear's layer pattern (3 KDA : 1 MLA, KDA/KDA/MLA tail, one dense layer) and ratios
    /// (head dim 128 for KDA, latent 512 + 64, 8 of many experts) at about 1/8 of the width, so the
    /// whole 8-layer model runs in milliseconds per token here. Widths stay multiples of 256 so
    /// K-quants apply to every matrix.
    public static let kimiLinearMini: ModelConfig = {
        var c = kimiLinear48B
        c.name = "kimi-linear-mini"
        c.hiddenSize = 512; c.layerCount = 8; c.vocabSize = 4096
        c.kdaHeads = 4; c.kdaGateRank = 32
        c.mlaHeads = 4
        c.denseIntermediate = 2048; c.experts = 32; c.expertsPerToken = 4
        c.expertIntermediate = 256; c.sharedIntermediate = 256
        return c
    }()
}
