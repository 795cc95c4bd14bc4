/// Step-3.5-Flash (StepFun): GQA with full attention on one layer in four (RoPE on half of each
/// head, theta 5e6) and a 512-token sliding window on the rest (full RoPE, theta 1e4), per-head q/k
/// RMSNorm and a head-wise sigmoid output gate; sparse MoE after leading dense layers, with SwiGLU
/// clamps on some layers. GGUF architecture "step35", read as llama.cpp's loader reads it
/// (src/models/step35.cpp): the sliding-window pattern, head counts and clamps are per-layer arrays;
/// full layers rotate rope.dimension_count / 2 dimensions.
public enum Step35: ModelArchitecture {
    public static let ggufName = "step35"

    public static var presets: [ModelConfig] { [.step35Flash, .step35Mini] }

    public static func mixer(_ c: ModelConfig, layer i: Int) -> ModelConfig.LayerMixer {
        i % c.attentionPeriod == 0 ? .gqaFull : .gqaSliding
    }

    public static func config(from file: GGUFFile) throws -> ModelConfig {
        let m = GGUFMetadata(file: file, prefix: ggufName)
        var c = try m.common(.step35Flash)
        let layers = c.layerCount
        guard let pattern = m.value("attention.sliding_window_pattern")?.array, pattern.count >= layers else {
            throw m.fail("\(ggufName).attention.sliding_window_pattern", "missing or shorter than the \(layers) layers")
        }
        c.layerPattern = try pattern.prefix(layers).map { v in
            guard let b = v.integer else { throw m.fail("\(ggufName).attention.sliding_window_pattern", "expected bools, got \(v)") }
            return b != 0 ? .gqaSliding : .gqaFull
        }
        let heads = try m.perLayerIntegers("attention.head_count", layers: layers, 1...4096)
            ?? { throw m.fail("\(ggufName).attention.head_count", "missing") }()
        let kv = try m.perLayerIntegers("attention.head_count_kv", layers: layers, 1...4096) ?? heads
        func uniform(_ values: [Int], _ kind: ModelConfig.LayerMixer, _ key: String) throws -> Int? {
            let mine = Set(zip(values, c.layerPattern!).filter { $0.1 == kind }.map(\.0))
            guard mine.count <= 1 else { throw m.fail("\(ggufName).\(key)", "differs between \(kind.rawValue) layers") }
            return mine.first
        }
        c.fullHeads = try uniform(heads, .gqaFull, "attention.head_count") ?? 0
        c.slidingHeads = try uniform(heads, .gqaSliding, "attention.head_count") ?? 0
        let kvFull = try uniform(kv, .gqaFull, "attention.head_count_kv"), kvSliding = try uniform(kv, .gqaSliding, "attention.head_count_kv")
        guard kvFull == nil || kvSliding == nil || kvFull == kvSliding else {
            throw m.fail("\(ggufName).attention.head_count_kv", "differs between full and sliding layers")
        }
        c.kvHeads = kvFull ?? kvSliding ?? 1
        c.headDim = try m.optionalInteger("attention.key_length", 1...4096) ?? c.hiddenSize / heads[0]
        guard (try m.optionalInteger("attention.value_length", 1...4096) ?? c.headDim) == c.headDim else {
            throw m.fail("\(ggufName).attention.value_length", "differs from key_length; this engine runs equal K and V head sizes")
        }
        // As llama.cpp: full layers rotate half of rope.dimension_count, sliding layers
        // rope.dimension_count_swa (default: the whole rope.dimension_count).
        let rotary = try m.optionalInteger("rope.dimension_count", 2...4096) ?? c.headDim
        c.fullRotaryDims = rotary / 2
        c.slidingRotaryDims = try m.optionalInteger("rope.dimension_count_swa", 2...4096) ?? rotary
        c.fullRopeTheta = Float(try m.number("rope.freq_base") ?? 10_000)
        c.slidingRopeTheta = Float(try m.number("rope.freq_base_swa") ?? Double(c.fullRopeTheta))
        c.slidingWindow = try m.integer("attention.sliding_window", 1...(1 << 24))
        if m.value("rope.scaling.type").flatMap(\.string).map({ $0 != "none" && $0 != "linear" }) == true || file.tensor("rope_freqs.weight") != nil {
            throw GGUFError(file.path, "RoPE scaling (rope.scaling.type, rope_freqs) is not supported by this engine")
        }
        try MoEMetadata.read(m, into: &c)
        if let gating = try m.optionalInteger("expert_gating_func", 0...16), gating != 0 && gating != 2 {
            throw m.fail("\(ggufName).expert_gating_func", "expected 2 (sigmoid), the gating llama.cpp runs for step35, got \(gating)")
        }
        c.normalizeExpertWeights = try m.bool("expert_weights_norm") ?? false
        c.routedSwigluLimit = nil; c.sharedSwigluLimit = nil
        c.routedSwigluLimits = try m.perLayerNumbers("swiglu_clamp_exp", layers: layers).map { $0.map(Float.init) }
        c.sharedSwigluLimits = try m.perLayerNumbers("swiglu_clamp_shexp", layers: layers).map { $0.map(Float.init) }
        try c.validate()
        return c
    }

    /// llama.cpp loads step35's expert-selection bias as optional (zero when absent).
    public static func mayOmit(_ spec: TensorSpec) -> Bool { spec.role == .routerBias }

    public static func mixerTensorSpecs(_ c: ModelConfig, layer i: Int) -> [TensorSpec] {
        let h = c.hiddenSize, spec = TensorSpec.layer(i)
        let heads = c.gqaHeads(c.mixer(ofLayer: i))
        return [
            spec("attn_q.weight", heads * c.headDim, h, .attentionQ, nil, 1),
            spec("attn_k.weight", c.kvHeads * c.headDim, h, .attentionKV, nil, 1),
            spec("attn_v.weight", c.kvHeads * c.headDim, h, .attentionValue, nil, 1),
            spec("attn_q_norm.weight", 1, c.headDim, .norm, 1, 1),
            spec("attn_k_norm.weight", 1, c.headDim, .norm, 1, 1),
            spec("attn_gate.weight", heads, h, .attentionGate, nil, 1),
            spec("attn_output.weight", h, heads * c.headDim, .attentionOut, 0.5 * inverseRoot(heads * c.headDim), 1),
        ]
    }
}

extension ModelConfig {
    /// Step-3.5-Flash as published (stepfun-ai/Step-3.5-Flash), without the optional MTP layers.
    /// Its SwiGLU clamps are per layer: routed experts clamped at 7 on the last two layers, the
    /// shared expert at 16 on the last (the released config's swiglu_limits / swiglu_limits_shared).
    public static let step35Flash: ModelConfig = {
        var c = ModelConfig(
            name: "step-3.5-flash", family: .step35, hiddenSize: 4096, layerCount: 45, vocabSize: 128_896,
            normEps: 1e-5, attentionPeriod: 4,
            kdaHeads: 0, kdaHeadDim: 0, kdaConvKernel: 0, kdaGateRank: 0,
            mlaHeads: 0, kvLoraRank: 0, qkNopeDim: 0, qkRopeDim: 0, vHeadDim: 0,
            fullHeads: 64, slidingHeads: 96, kvHeads: 8, headDim: 128, fullRotaryDims: 64, slidingRotaryDims: 128,
            fullRopeTheta: 5_000_000, slidingRopeTheta: 10_000, slidingWindow: 512,
            denseLayers: 3, denseIntermediate: 11_264, experts: 288, expertsPerToken: 8, sharedExperts: 1,
            expertIntermediate: 1280, sharedIntermediate: 1280, routedScale: 3.0,
            routedSwigluLimit: nil, sharedSwigluLimit: nil, maxContext: 262_144)
        c.routedSwigluLimits = (0..<45).map { $0 >= 43 ? 7 : 0 }
        c.sharedSwigluLimits = (0..<45).map { $0 == 44 ? 16 : 0 }
        return c
    }()

    /// Step-3.5-Flash's pattern (full GQA every fourth layer, sliding window 512 elsewhere, 3 dense
    /// layers, clamps on the last layers) at about 1/8 of the width, 8 layers.
    public static let step35Mini: ModelConfig = {
        var c = step35Flash
        c.name = "step-3.5-mini"
        c.hiddenSize = 512; c.layerCount = 8; c.vocabSize = 4096
        c.fullHeads = 8; c.slidingHeads = 12; c.kvHeads = 2
        c.denseIntermediate = 1536; c.experts = 32; c.expertsPerToken = 4
        c.expertIntermediate = 256; c.sharedIntermediate = 256
        c.routedSwigluLimits = (0..<8).map { $0 >= 6 ? 7 : 0 }
        c.sharedSwigluLimits = (0..<8).map { $0 == 7 ? 16 : 0 }
        return c
    }()
}
