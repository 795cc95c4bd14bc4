/// Every hyperparameter of a model the engine runs, Codable so a suite can name a preset and
/// override any field (`{preset: "kimi-linear-48b-a3b", layerCount: 4, experts: 32, vocabSize: 1024}`).
///
/// One struct serves both families; fields a family does not use are ignored by it (Step-3.5-Flash
/// has no KDA, Kimi-Linear no GQA). Facts: ../shared/docs/architectures.md.
public struct ModelConfig: Codable, Sendable, Equatable {
    public enum Family: String, Codable, Sendable, CaseIterable {
        /// KDA linear attention with MLA every fourth layer and on the last; MoE after dense layers
        /// (Architectures/KimiLinear/).
        case kimiLinear = "kimi-linear"
        /// GQA: full attention on layers i % 4 == 0, sliding window on the rest; MoE after dense
        /// layers (Architectures/Step35/).
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
    /// SwiGLU clamp for routed experts and for the shared expert, on every MoE layer; nil: none.
    /// Per-layer arrays below take precedence where they have an entry.
    public var routedSwigluLimit: Float?
    public var sharedSwigluLimit: Float?

    public var maxContext: Int

    /// Per layer, from a GGUF file (or a preset that varies by layer): the token mixer of each layer
    /// (nil: the family's pattern), and SwiGLU clamps of the routed and the shared/dense FFN
    /// (0: none). llama.cpp reads Step-3.5-Flash's pattern and clamps this way.
    public var layerPattern: [LayerMixer]? = nil
    public var routedSwigluLimits: [Float]? = nil
    public var sharedSwigluLimits: [Float]? = nil
    /// Whether the chosen experts' weights are renormalized to sum 1 before the scale (Kimi: always;
    /// Step-3.5-Flash: expert_weights_norm).
    public var normalizeExpertWeights: Bool = true

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
        if let layerPattern, i < layerPattern.count { return layerPattern[i] }
        return family.architecture.mixer(self, layer: i)
    }

    /// The SwiGLU clamp of layer `i`'s routed experts, and of its shared expert or dense FFN.
    public func routedLimit(layer i: Int) -> Float? { Self.limit(routedSwigluLimits, i) ?? routedSwigluLimit }
    public func sharedLimit(layer i: Int) -> Float? { Self.limit(sharedSwigluLimits, i) ?? sharedSwigluLimit }

    static func limit(_ values: [Float]?, _ i: Int) -> Float?? {
        guard let values, i < values.count else { return nil }
        return values[i] > 1e-6 ? .some(values[i]) : .some(nil)
    }

    public func ffn(ofLayer i: Int) -> LayerFFN { i < denseLayers ? .dense : .moe }

    public var layerMixers: [LayerMixer] { (0..<layerCount).map(mixer(ofLayer:)) }

    /// Query heads of a GQA layer.
    public func gqaHeads(_ mixer: LayerMixer) -> Int { mixer == .gqaFull ? fullHeads : slidingHeads }
}

extension ModelConfig {
    /// Every family's presets (each family's unit defines its own): the published models first,
    /// then the small ones, in family order.
    public static var presets: [ModelConfig] {
        let perFamily = Family.allCases.map { $0.architecture.presets }
        return (0..<(perFamily.map(\.count).max() ?? 0)).flatMap { i in perFamily.compactMap { i < $0.count ? $0[i] : nil } }
    }

    public static func preset(named name: String) -> ModelConfig? { presets.first { $0.name == name } }
}
