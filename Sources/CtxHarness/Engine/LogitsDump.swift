import CtxEngine
import Foundation

/// The engine's logits for a token sequence, as `ctxbench logits` writes them for a comparison with
/// another implementation (llama.cpp: scripts/llama-logits.c): the first `prefill` tokens in one
/// forward call (micro-batched as the engine always runs), the rest one decode step each, every
/// position's logits kept; and every MoE layer's expert-selection scores as they were computed.
public struct LogitsDump {
    public struct Routing {
        /// Records in computation order: layer, tokens, and tokens x experts scores.
        public var records: [(layer: Int, tokens: Int, scores: [Float])] = []
        public var experts: Int

        /// llama-logits' binary format: int32 layer, int32 tokens, int32 experts, float32 scores.
        public var data: Data {
            var out = Data()
            for r in records {
                for v in [Int32(r.layer), Int32(r.tokens), Int32(experts)] { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
                for v in r.scores { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            }
            return out
        }
    }

    public let logits: NumPyArray
    public let routing: Routing
    public let seconds: Double

    /// Runs `tokens` through the file's model with its own weights.
    public static func run(gguf path: String, tokens: [Int32], prefill: Int, threads: Int, cacheType: DType = .f32,
                           microBatch: Int = 512) throws -> LogitsDump {
        let file = try GGUFFile(path: path)
        let config = try ModelConfig.from(gguf: file)
        let weights = try ModelWeights(gguf: file, config: config)
        return try run(weights: weights, tokens: tokens, prefill: prefill, threads: threads, cacheType: cacheType, microBatch: microBatch)
    }

    public static func run(weights: ModelWeights, tokens: [Int32], prefill: Int, threads: Int, cacheType: DType = .f32,
                           microBatch: Int = 512) throws -> LogitsDump {
        let config = weights.config
        precondition((1...tokens.count).contains(prefill), "prefill must be 1...tokens")
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw LogitsError("token \(bad) is outside the vocabulary (0..<\(config.vocabSize))")
        }
        let pool = ThreadPool(threads: threads)
        // Decode as the benchmarks run it (quantized and f16 weights from regrouped copies on AVX-512 VNNI builds).
        _ = try weights.regroupForDecode(pool: pool, budgetBytes: EngineSession.decodeRegroupingBudget)
        let model = try Model(weights: weights, maxBatch: microBatch)
        let state = try InferenceState(model: model, capacity: tokens.count + 1, cacheType: cacheType)
        let ctx = EngineContext(pool: pool, layers: model.layerCount, profiling: false)
        var routing = Routing(experts: config.experts)
        ctx.routingObserver = { layer, count, scores in routing.records.append((layer, count, Array(scores))) }
        let vocab = config.vocabSize
        var values = [Float](repeating: 0, count: tokens.count * vocab)
        let start = monotonicNanoseconds()
        values.withUnsafeMutableBufferPointer { out in
            model.forward(Array(tokens[..<prefill]), state: state, ctx: ctx, allLogits: out.baseAddress!)
            for i in prefill..<tokens.count {
                let row = model.forward([tokens[i]], state: state, ctx: ctx)
                (out.baseAddress! + i * vocab).update(from: row.baseAddress!, count: vocab)
            }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        return LogitsDump(logits: NumPyArray(shape: [tokens.count, vocab], values: values), routing: routing, seconds: seconds)
    }
}

public struct LogitsError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
