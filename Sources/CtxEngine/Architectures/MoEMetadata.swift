/// The dense and MoE feed-forward hyperparameters both families' GGUF files carry, read as llama.cpp
/// reads them: leading dense layers of feed_forward_length, then experts of
/// expert_feed_forward_length (per layer, which must agree on the MoE layers), the shared expert
/// of expert_shared_feed_forward_length (or count x the expert width), and the routing scale.
enum MoEMetadata {
    static func read(_ m: GGUFMetadata, into c: inout ModelConfig) throws {
        let layers = c.layerCount
        c.denseLayers = try m.optionalInteger("leading_dense_block_count", 0...layers) ?? 0
        if c.denseLayers > 0 {
            let dense = try m.perLayerIntegers("feed_forward_length", layers: layers, 1...ModelConfig.largestDimension)
                ?? { throw m.fail("\(m.prefix).feed_forward_length", "missing (there are dense layers)") }()
            guard Set(dense.prefix(c.denseLayers)).count == 1 else { throw m.fail("\(m.prefix).feed_forward_length", "differs between dense layers") }
            c.denseIntermediate = dense[0]
        }
        guard c.denseLayers < layers else { c.experts = 0; c.sharedExperts = 0; return }
        if let groups = try m.optionalInteger("expert_group_count", 0...65536), groups > 1 {
            throw m.fail("\(m.prefix).expert_group_count", "grouped expert routing (\(groups) groups) is not supported by this engine")
        }
        if let every = try m.optionalInteger("moe_every_n_layers", 0...4096), every > 1 {
            throw m.fail("\(m.prefix).moe_every_n_layers", "MoE on every \(every)th layer only is not supported by this engine")
        }
        c.experts = try m.integer("expert_count", 1...65536)
        c.expertsPerToken = try m.integer("expert_used_count", 1...c.experts)
        let widths = try m.perLayerIntegers("expert_feed_forward_length", layers: layers, 1...ModelConfig.largestDimension)
            ?? { throw m.fail("\(m.prefix).expert_feed_forward_length", "missing") }()
        guard Set(widths[c.denseLayers...]).count == 1 else { throw m.fail("\(m.prefix).expert_feed_forward_length", "differs between MoE layers") }
        c.expertIntermediate = widths[c.denseLayers]
        let firstMoE = c.denseLayers
        if m.file.tensor("blk.\(firstMoE).ffn_gate_shexp.weight") != nil {
            let width = try m.shape("blk.\(firstMoE).ffn_gate_shexp.weight").rows
            c.sharedExperts = 1
            c.sharedIntermediate = width
        } else {
            c.sharedExperts = 0
        }
        let scale = try m.number("expert_weights_scale") ?? 0
        c.routedScale = scale == 0 ? 1 : Float(scale)  // llama.cpp: 0 or 1 means no scaling
    }
}
