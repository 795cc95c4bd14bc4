/// A runnable model: the layers of a `ModelConfig` over `ModelWeights`, read top to bottom.
///
///   h = embed(tokens)                                  [T][hidden]
///   for each layer:  h += mixer(RMSNorm(h))            KDA, MLA or GQA (full / sliding)
///                    h += ffn(RMSNorm(h))              dense SwiGLU or MoE
///   logits = W_out RMSNorm(h[last])                    [vocab]
/// Tokens are processed in micro-batches of at most `maxBatch`; the state carries every cache
/// and recurrent state between calls, so prefill-then-decode equals decoding token by token.
public final class Model: @unchecked Sendable {
    enum Mixer {
        case kda(KDALayer)
        case mla(MLALayer)
        case gqa(GQALayer)
    }

    enum FFN {
        case dense(DenseFFN)
        case moe(MoELayer)
    }

    public let config: ModelConfig
    public let weights: ModelWeights
    public let maxBatch: Int
    /// Layers run (a slice of the config's pattern when smaller than config.layerCount).
    public var layerCount: Int { weights.layers }
    public var mlaForm: MLAForm = .auto
    let mixers: [Mixer]
    let ffns: [FFN]
    let attentionNorms: [Tensor], ffnNorms: [Tensor]
    let embedding: Tensor, outputNorm: Tensor, output: Tensor
    let hidden: FloatBuffer, normed: FloatBuffer, branch: FloatBuffer
    let logitsBuffer: FloatBuffer

    public init(weights: ModelWeights, maxBatch: Int = 512) throws {
        precondition(maxBatch >= 1)
        let c = weights.config
        config = c
        self.weights = weights
        self.maxBatch = maxBatch
        mixers = try (0..<weights.layers).map { i in
            switch c.mixer(ofLayer: i) {
            case .kda: .kda(try KDALayer(weights: weights, layer: i, maxBatch: maxBatch))
            case .mla: .mla(try MLALayer(weights: weights, layer: i, maxBatch: maxBatch))
            case .gqaFull, .gqaSliding: .gqa(try GQALayer(weights: weights, layer: i, maxBatch: maxBatch))
            }
        }
        ffns = try (0..<weights.layers).map { i in
            switch c.ffn(ofLayer: i) {
            case .dense: .dense(try DenseFFN(weights: weights, layer: i, maxBatch: maxBatch))
            case .moe: .moe(try MoELayer(weights: weights, layer: i, maxBatch: maxBatch))
            }
        }
        attentionNorms = (0..<weights.layers).map { weights.layerTensor($0, "attn_norm.weight") }
        ffnNorms = (0..<weights.layers).map { weights.layerTensor($0, "ffn_norm.weight") }
        embedding = weights.tensor("token_embd.weight")
        outputNorm = weights.tensor("output_norm.weight")
        output = weights.tensor("output.weight")
        hidden = try FloatBuffer(maxBatch * c.hiddenSize)
        normed = try FloatBuffer(maxBatch * c.hiddenSize)
        branch = try FloatBuffer(maxBatch * c.hiddenSize)
        logitsBuffer = try FloatBuffer(c.vocabSize)
    }

    /// Runs `tokens` through the model after the context already in `state`, and returns the
    /// logits of the last token ([vocab], valid until the next call). With `allLogits` (room for
    /// tokens x vocab floats) every token's logits are written there, in order.
    @discardableResult
    public func forward(_ tokens: [Int32], state: InferenceState, ctx: EngineContext,
                        allLogits: UnsafeMutablePointer<Float>? = nil) -> UnsafeBufferPointer<Float> {
        precondition(!tokens.isEmpty, "forward needs at least one token")
        precondition(state.position + tokens.count <= state.capacity,
                     "context of \(state.position) + \(tokens.count) tokens exceeds the state's capacity \(state.capacity)")
        let h = config.hiddenSize, slot = ctx.profiler.modelSlot
        var start = 0
        while start < tokens.count {
            let n = min(maxBatch, tokens.count - start)
            batch(Array(tokens[start..<(start + n)]), state: state, ctx: ctx)
            if let allLogits {
                // Every row's final norm and LM head (a GEMM over the micro-batch).
                ctx.time(.norm, slot) {
                    let w = outputNorm.data.assumingMemoryBound(to: Float.self)
                    for t in 0..<n { VectorOps.rmsNorm(hidden.p + t * h, weight: w, eps: config.normEps, normed.p + t * h, h) }
                }
                ctx.time(.lmHead, slot) { ctx.linear(output, normed.p, tokens: n, allLogits + start * config.vocabSize) }
            }
            start += n
        }
        if let allLogits {
            logitsBuffer.p.update(from: allLogits + (tokens.count - 1) * config.vocabSize, count: config.vocabSize)
            return UnsafeBufferPointer(start: logitsBuffer.p, count: config.vocabSize)
        }
        let last = hidden.p + (min(maxBatch, tokens.count - (tokens.count - 1) / maxBatch * maxBatch) - 1) * h
        ctx.time(.norm, slot) {
            VectorOps.rmsNorm(last, weight: outputNorm.data.assumingMemoryBound(to: Float.self), eps: config.normEps,
                              normed.p, h)
        }
        ctx.time(.lmHead, slot) {
            GEMV.multiply(output, normed.p, logitsBuffer.p, pool: ctx.pool, scratch: ctx.matmul)
        }
        return UnsafeBufferPointer(start: logitsBuffer.p, count: config.vocabSize)
    }

    /// One micro-batch of T <= maxBatch tokens.
    func batch(_ tokens: [Int32], state: InferenceState, ctx: EngineContext) {
        let t = tokens.count, h = config.hiddenSize, eps = config.normEps
        let position = state.position
        ctx.time(.embedding, ctx.profiler.modelSlot) {
            for (i, token) in tokens.enumerated() {
                precondition(token >= 0 && Int(token) < config.vocabSize, "token \(token) outside the vocabulary")
                embedding.type.format.dequantize(embedding.row(Int(token)), hidden.p + i * h, count: h)
            }
        }
        for layer in 0..<layerCount {
            ctx.time(.norm, layer) { rmsNormRows(attentionNorms[layer], tokens: t, eps: eps) }
            switch (mixers[layer], state.layers[layer]) {
            case let (.kda(kda), .kda(s)):
                kda.forward(normed.p, tokens: t, branch.p, state: s, ctx: ctx)
            case let (.mla(mla), .mla(cache)):
                mla.forward(normed.p, tokens: t, branch.p, cache: cache, position: position, form: mlaForm, ctx: ctx)
            case let (.gqa(gqa), .gqa(keys, values)):
                gqa.forward(normed.p, tokens: t, branch.p, keys: keys, values: values, position: position, ctx: ctx)
            default:
                preconditionFailure("state of layer \(layer) does not match its mixer")
            }
            ctx.time(.residual, layer) { VectorOps.axpy(1, branch.p, hidden.p, t * h) }
            ctx.time(.norm, layer) { rmsNormRows(ffnNorms[layer], tokens: t, eps: eps) }
            switch ffns[layer] {
            case let .dense(ffn): ffn.forward(normed.p, tokens: t, branch.p, ctx: ctx)
            case let .moe(moe): moe.forward(normed.p, tokens: t, branch.p, ctx: ctx)
            }
            ctx.time(.residual, layer) { VectorOps.axpy(1, branch.p, hidden.p, t * h) }
        }
        state.position += t
    }

    /// normed[t] = RMSNorm(hidden[t]) * w
    func rmsNormRows(_ weight: Tensor, tokens: Int, eps: Float) {
        let h = config.hiddenSize, w = weight.data.assumingMemoryBound(to: Float.self)
        for t in 0..<tokens { VectorOps.rmsNorm(hidden.p + t * h, weight: w, eps: eps, normed.p + t * h, h) }
    }
}

extension Model {
    /// The logits of the last token of the last `forward` call.
    public var lastLogits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: logitsBuffer.p, count: config.vocabSize) }
}
