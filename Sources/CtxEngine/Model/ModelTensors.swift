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

extension TensorSpec {
    /// Specs of layer `i`: (name, rows, cols, role, scale, experts) -> "blk.i.name", the scale
    /// defaulting to 1/sqrt(cols).
    static func layer(_ i: Int) -> (String, Int, Int, Role, Float?, Int) -> TensorSpec {
        { name, rows, cols, role, scale, experts in
            TensorSpec(name: "blk.\(i).\(name)", rows: rows, cols: cols, role: role, layer: i,
                       scale: scale ?? inverseRoot(cols), experts: experts)
        }
    }
}

extension ModelConfig {
    /// Every tensor of the model, layer by layer, then embedding, output norm and LM head, named as
    /// in GGUF files (so a file's tensors are found by name, with no copy).
    public func tensorSpecs(layers: Int? = nil) -> [TensorSpec] {
        (0..<(layers ?? layerCount)).flatMap(layerTensorSpecs) + [
            TensorSpec(name: "token_embd.weight", rows: vocabSize, cols: hiddenSize, role: .embedding, layer: nil, scale: 1, experts: 1),
            TensorSpec(name: "output_norm.weight", rows: 1, cols: hiddenSize, role: .norm, layer: nil, scale: 1, experts: 1),
            TensorSpec(name: "output.weight", rows: vocabSize, cols: hiddenSize, role: .output, layer: nil,
                       scale: inverseRoot(hiddenSize), experts: 1),
        ]
    }

    /// Tensors of layer `i`: its norms, its token mixer's (from the family's unit) and its FFN's.
    /// Projections into the residual stream get half the usual scale so the stream grows slowly
    /// with depth (the synthetic model must stay finite through any depth).
    public func layerTensorSpecs(_ i: Int) -> [TensorSpec] {
        let h = hiddenSize
        let spec = TensorSpec.layer(i)
        var specs = [spec("attn_norm.weight", 1, h, .norm, 1, 1)]
        specs += family.architecture.mixerTensorSpecs(self, layer: i)
        specs.append(spec("ffn_norm.weight", 1, h, .norm, 1, 1))
        switch ffn(ofLayer: i) {
        case .dense:
            specs += [spec("ffn_gate.weight", denseIntermediate, h, .ffnGateUp, nil, 1),
                      spec("ffn_up.weight", denseIntermediate, h, .ffnGateUp, nil, 1),
                      spec("ffn_down.weight", h, denseIntermediate, .ffnDown, 0.5 * inverseRoot(denseIntermediate), 1)]
        case .moe:
            // Experts stacked (GGUF [hidden, I, E]): expert e's rows are e*I..<(e+1)*I.
            specs += [
                spec("ffn_gate_inp.weight", experts, h, .router, nil, 1),
                spec("exp_probs_b.bias", 1, experts, .routerBias, 0.01, 1),
                spec("ffn_gate_exps.weight", experts * expertIntermediate, h, .expertGateUp, nil, experts),
                spec("ffn_up_exps.weight", experts * expertIntermediate, h, .expertGateUp, nil, experts),
                spec("ffn_down_exps.weight", experts * h, expertIntermediate, .expertDown,
                     0.5 * inverseRoot(expertIntermediate), experts),
            ]
            if sharedExperts > 0 {
                let width = sharedExperts * sharedIntermediate
                specs += [spec("ffn_gate_shexp.weight", width, h, .ffnGateUp, nil, 1),
                          spec("ffn_up_shexp.weight", width, h, .ffnGateUp, nil, 1),
                          spec("ffn_down_shexp.weight", h, width, .ffnDown, 0.5 * inverseRoot(width), 1)]
            }
        }
        return specs
    }
}

@inline(__always)
func inverseRoot(_ n: Int) -> Float { 1 / Float(n).squareRoot() }
