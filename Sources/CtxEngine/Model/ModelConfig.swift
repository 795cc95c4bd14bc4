/// Every hyperparameter of a model the engine runs, Codable so a suite can name a preset and
/// override any field (`{preset: "kimi-linear-48b-a3b", layerCount: 4, experts: 32, vocabSize: 1024}`).
///
/// One struct serves both families; fields a family does not use are ignored by it (Step-3.5-Flash
/// has no KDA, Kimi-Linear no GQA). Facts: ../shared/docs/architectures.md.
public struct ModelConfig: Codable, Sendable, Equatable {
    public enum Family: String, Codable, Sendable, CaseIterable {
        /// KDA linear attention with MLA every fourth layer and on the last; MoE after dense layers.
        case kimiLinear = "kimi-linear"
        /// GQA: full attention on layers i % 4 == 0, sliding window on the rest; MoE after dense layers.
        case step35 = "step-3.5"
    }

    public var name: String
    public var family: Family
    public var hiddenSize: Int
    public var layerCount: Int
    public var vocabSize: Int
    public var normEps: Float
    /// One layer in `attentionPeriod` uses full attention (Kimi: MLA at i % 4 == 3 and the last
    /// layer; Step: full GQA at i % 4 == 0).
    public var attentionPeriod: Int

    // Kimi Delta Attention
    public var kdaHeads: Int
    public var kdaHeadDim: Int
    public var kdaConvKernel: Int
    /// Rank of the forget-gate and output-gate low-rank projections (hidden -> rank -> heads*headDim).
    public var kdaGateRank: Int

    // Multi-head latent attention (NoPE, no q compression)
    public var mlaHeads: Int
    public var kvLoraRank: Int
    public var qkNopeDim: Int
    public var qkRopeDim: Int
    public var vHeadDim: Int

    // Grouped-query attention (Step-3.5-Flash)
    public var fullHeads: Int
    public var slidingHeads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var fullRotaryDims: Int
    public var slidingRotaryDims: Int
    public var fullRopeTheta: Float
    public var slidingRopeTheta: Float
    public var slidingWindow: Int

    // Feed-forward
    /// The first `denseLayers` layers use a dense SwiGLU FFN; the rest are MoE.
    public var denseLayers: Int
    public var denseIntermediate: Int
    public var experts: Int
    public var expertsPerToken: Int
    public var sharedExperts: Int
    public var expertIntermediate: Int
    public var sharedIntermediate: Int
    /// routed_scaling_factor: multiplies the renormalized top-k weights.
    public var routedScale: Float
    /// SwiGLU clamp for routed experts and for the shared expert (Step-3.5-Flash: 7 and 16); nil: none.
    public var routedSwigluLimit: Float?
    public var sharedSwigluLimit: Float?

    public var maxContext: Int

    public enum LayerMixer: String, Codable, Sendable, CaseIterable {
        case kda, mla
        case gqaFull = "gqa_full"
        case gqaSliding = "gqa_sliding"
    }

    public enum LayerFFN: String, Codable, Sendable, CaseIterable {
        case dense, moe
    }

    /// The token mixer of layer `i` (0-based) in a model of `layerCount` layers.
    public func mixer(ofLayer i: Int) -> LayerMixer {
        switch family {
        case .kimiLinear:
            return (i % attentionPeriod == attentionPeriod - 1 || i == layerCount - 1) ? .mla : .kda
        case .step35:
            return i % attentionPeriod == 0 ? .gqaFull : .gqaSliding
        }
    }

    public func ffn(ofLayer i: Int) -> LayerFFN { i < denseLayers ? .dense : .moe }

    public var layerMixers: [LayerMixer] { (0..<layerCount).map(mixer(ofLayer:)) }

    /// Query heads of a GQA layer.
    public func gqaHeads(_ mixer: LayerMixer) -> Int { mixer == .gqaFull ? fullHeads : slidingHeads }
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

    /// Step-3.5-Flash as published (stepfun-ai/Step-3.5-Flash), without the optional MTP layers.
    public static let step35Flash = ModelConfig(
        name: "step-3.5-flash", family: .step35, hiddenSize: 4096, layerCount: 45, vocabSize: 128_896,
        normEps: 1e-5, attentionPeriod: 4,
        kdaHeads: 0, kdaHeadDim: 0, kdaConvKernel: 0, kdaGateRank: 0,
        mlaHeads: 0, kvLoraRank: 0, qkNopeDim: 0, qkRopeDim: 0, vHeadDim: 0,
        fullHeads: 64, slidingHeads: 96, kvHeads: 8, headDim: 128, fullRotaryDims: 64, slidingRotaryDims: 128,
        fullRopeTheta: 5_000_000, slidingRopeTheta: 10_000, slidingWindow: 512,
        denseLayers: 3, denseIntermediate: 11_264, experts: 288, expertsPerToken: 8, sharedExperts: 1,
        expertIntermediate: 1280, sharedIntermediate: 1280, routedScale: 3.0,
        routedSwigluLimit: 7.0, sharedSwigluLimit: 16.0, maxContext: 262_144)

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

    /// Step-3.5-Flash's pattern (full GQA every fourth layer, sliding window 512 elsewhere, 3 dense
    /// layers, clamped SwiGLU) at about 1/8 of the width, 8 layers.
    public static let step35Mini: ModelConfig = {
        var c = step35Flash
        c.name = "step-3.5-mini"
        c.hiddenSize = 512; c.layerCount = 8; c.vocabSize = 4096
        c.fullHeads = 8; c.slidingHeads = 12; c.kvHeads = 2
        c.denseIntermediate = 1536; c.experts = 32; c.expertsPerToken = 4
        c.expertIntermediate = 256; c.sharedIntermediate = 256
        return c
    }()

    public static let presets: [ModelConfig] = [kimiLinear48B, step35Flash, kimiLinearMini, step35Mini]

    public static func preset(named name: String) -> ModelConfig? { presets.first { $0.name == name } }
}
