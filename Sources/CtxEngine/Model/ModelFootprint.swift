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
    /// Cache bytes added per token of context (MLA latent rows, full-attention K and V).
    public var kvBytesPerToken: Double
    /// Fixed state: KDA recurrent and conv states, and sliding-window K/V once the window is full.
    public var fixedStateBytes: Int

    public var weightBytes: Int { weightBytesByType.values.reduce(0, +) }

    /// Cache and state bytes at `depth` tokens of context.
    public func contextBytes(depth: Int) -> Double { kvBytesPerToken * Double(depth) + Double(fixedStateBytes) }
}

extension ModelConfig {
    /// Footprint of the first `layers` layers (default all) plus embedding and LM head.
    public func footprint(recipe: WeightRecipe, cacheType: DType, layers: Int? = nil) -> ModelFootprint {
        let layerLimit = layers ?? layerCount
        var total = 0, active = 0, activeBytes = 0
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
            } else {
                active += spec.parameters
                activeBytes += bytes
            }
        }
        let cacheBytesPerValue = Double(cacheType.blockBytes) / Double(cacheType.blockValues)
        var perToken = 0.0, fixed = 0
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
                fixed += Int(Double(2 * kvHeads * headDim * slidingWindow) * cacheBytesPerValue)
            }
        }
        return ModelFootprint(totalParameters: total, activeParameters: active, weightBytesByType: byType,
                              activeWeightBytes: activeBytes, kvBytesPerToken: perToken, fixedStateBytes: fixed)
    }
}
