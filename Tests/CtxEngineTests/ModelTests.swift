import Foundation
import Testing
@testable import CtxEngine

/// Whole-model properties on tiny configurations of both families.
@Suite(.serialized) struct ModelTests {
    /// One pool for the suite (which is serialized: a pool runs one parallel region at a time).
    static let pool = ThreadPool(threads: 2)

    static func model(_ config: ModelConfig, recipe: WeightRecipe = .uniform(.f32), seed: UInt64 = 7,
                      maxBatch: Int = 32) throws -> Model {
        try Model(weights: ModelWeights(config: config, recipe: recipe, seed: seed, pool: pool), maxBatch: maxBatch)
    }

    static func tokens(_ n: Int, vocab: Int, seed: UInt64 = 1) -> [Int32] {
        var r = SeededRandom(seed: seed)
        return (0..<n).map { _ in Int32(r.next() % UInt64(vocab)) }
    }

    /// Logits after feeding `tokens` in the given chunk sizes.
    static func logits(_ model: Model, _ tokens: [Int32], chunks: [Int], cache: DType = .f32,
                       expansionBudget: Int? = nil) throws -> [Float] {
        let ctx = EngineContext(pool: pool, layers: model.layerCount)
        if let expansionBudget { ctx.mlaExpansion.budgetBytes = expansionBudget }
        let state = try InferenceState(model: model, capacity: tokens.count, cacheType: cache)
        var start = 0, last: [Float] = []
        for n in chunks {
            last = Array(model.forward(Array(tokens[start..<(start + n)]), state: state, ctx: ctx))
            start += n
        }
        precondition(start == tokens.count)
        return last
    }

    static func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(b.map(abs).max() ?? 1, 1e-6)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    @Test(arguments: [TinyModels.kimi, TinyModels.step])
    func prefillThenDecodeEqualsTokenByToken(config: ModelConfig) throws {
        // 40 tokens through micro-batches of 32: KDA's chunked path, a GEMM path and ring wrap all run.
        let model = try Self.model(config)
        let tokens = Self.tokens(44, vocab: config.vocabSize)
        let prefilled = try Self.logits(model, tokens, chunks: [40, 1, 1, 1, 1])
        let stepwise = try Self.logits(model, tokens, chunks: Array(repeating: 1, count: 44))
        #expect(prefilled.allSatisfy { $0.isFinite })
        #expect(Self.maxRelativeDifference(prefilled, stepwise) < 1e-3)
    }

    /// The expanded form (the naive form's math as GEMMs and per-head cache attention) gives the
    /// textbook form's logits, all heads expanded at once and (a budget too small for two) one
    /// head at a time.
    @Test(arguments: [Int.max, 1])
    func expandedMLAEqualsNaiveMLA(expansionBudget: Int) throws {
        let model = try Self.model(TinyModels.kimi)
        let tokens = Self.tokens(20, vocab: 128)
        model.mlaForm = .naive
        let naive = try Self.logits(model, tokens, chunks: [12, 8])
        model.mlaForm = .expanded
        let expanded = try Self.logits(model, tokens, chunks: [12, 8], expansionBudget: expansionBudget)
        #expect(Self.maxRelativeDifference(expanded, naive) < 1e-4)
    }

    /// `auto` expands a prefill micro-batch and absorbs a decode step (Kimi-Linear-48B's widths: a
    /// 512-token micro-batch needs about half the FLOPs expanded, one token about 1/500th absorbed),
    /// the FLOP accounting counts the form that runs, and the engine runs it (its kv_up op).
    @Test func mlaFormIsChosenAndCountedByFLOPs() throws {
        let c = ModelConfig.kimiLinear48B
        #expect(c.mlaForm(.auto, queries: 512, position: 0) == .expanded)
        #expect(c.mlaForm(.auto, queries: 512, position: 4096) == .expanded)
        #expect(c.mlaForm(.auto, queries: 1, position: 4096) == .absorbed)
        #expect(c.mlaForm(.auto, queries: 64, position: 4096) == .absorbed)
        #expect(c.mlaForm(.absorbed, queries: 512, position: 4096) == .absorbed)
        // Past 64K keys one head's expansion (1 KB a key) outgrows the 256 MiB budget.
        #expect(c.mlaForm(.auto, queries: 512, position: 60_000) == .expanded)
        #expect(c.mlaForm(.auto, queries: 512, position: 70_000) == .absorbed)
        #expect(c.mlaForm(.expanded, queries: 512, position: 70_000) == .expanded)
        let ratio = c.mlaAttentionFlops(queries: 512, position: 4096, expanded: true)
            / c.mlaAttentionFlops(queries: 512, position: 4096, expanded: false)
        #expect(ratio > 0.45 && ratio < 0.6, "\(ratio)")
        func prefill(_ form: MLAForm) -> Double { c.flops(tokens: 512, depth: 4096, recipe: .q4_K_M, forwardCalls: 1, mlaForm: form) }
        let mlaLayers = Double((0..<c.layerCount).filter { c.mixer(ofLayer: $0) == .mla }.count)
        let saved = mlaLayers * (c.mlaAttentionFlops(queries: 512, position: 4096, expanded: false)
                                 - c.mlaAttentionFlops(queries: 512, position: 4096, expanded: true))
        #expect(abs(prefill(.absorbed) - prefill(.auto) - saved) <= 1e-9 * prefill(.absorbed))
        #expect(prefill(.auto) == prefill(.expanded))
        #expect(c.flops(tokens: 16, depth: 4096, recipe: .q4_K_M, mlaForm: .auto) == c.flops(tokens: 16, depth: 4096, recipe: .q4_K_M, mlaForm: .absorbed))

        let model = try Self.model(TinyModels.kimi)
        let ctx = EngineContext(pool: Self.pool, layers: model.layerCount)
        let state = try InferenceState(model: model, capacity: 13, cacheType: .f32)
        func ran(_ tokens: Int) -> Set<String> {
            ctx.profiler.reset()
            model.forward(Self.tokens(tokens, vocab: 128), state: state, ctx: ctx)
            return Set(ctx.profiler.totalsByOp().map(\.op.name))
        }
        #expect(model.mlaForm == .auto)
        let prefillOps = ran(12), decodeOps = ran(1)
        #expect(prefillOps.contains("mla.kv_up"))
        #expect(!decodeOps.contains("mla.kv_up") && decodeOps.contains("mla.absorb"))
    }

    /// The planner's estimate of the expanded form's memory covers what the engine allocates (its
    /// scratch and the f32 W_kb copies), and is 0 where nothing expands.
    @Test func mlaExpansionMemoryEstimateCoversTheAllocation() throws {
        let config = TinyModels.kimi
        let model = try Self.model(config)
        model.mlaForm = .expanded
        let ctx = EngineContext(pool: Self.pool, layers: model.layerCount)
        let state = try InferenceState(model: model, capacity: 21, cacheType: .f32)
        model.forward(Self.tokens(12, vocab: 128), state: state, ctx: ctx)
        model.forward(Self.tokens(8, vocab: 128), state: state, ctx: ctx)
        let copies = model.mixers.reduce(0) { sum, mixer in
            if case .mla(let layer) = mixer { sum + layer.keyUpByHead.byteCount } else { sum }
        }
        let allocated = Double(ctx.mlaExpansion.allocatedBytes + copies)
        let estimate = config.mlaExpansionBytes(capacity: 21, form: .expanded)
        #expect(allocated > 0 && allocated <= estimate && estimate < 1.5 * allocated, "\(allocated) of \(estimate)")
        #expect(config.mlaExpansionBytes(capacity: 21, form: .absorbed) == 0)
        #expect(TinyModels.step.mlaExpansionBytes(capacity: 21, form: .auto) == 0)
        // auto never expands past one head's budget: Kimi-Linear-48B at 1M keys stays near 256 MiB.
        let big = ModelConfig.kimiLinear48B
        let mlaLayers = (0..<big.layerCount).filter { big.mixer(ofLayer: $0) == .mla }.count
        let copiesBig = Double(mlaLayers * big.mlaHeads * big.qkNopeDim * big.kvLoraRank * 4)
        let auto = big.mlaExpansionBytes(capacity: 1 << 20, form: .auto) - copiesBig
        #expect(auto > 200 * 1_048_576 && auto <= 300 * 1_048_576, "\(auto)")
    }

    @Test func absorbedMLAEqualsNaiveMLA() throws {
        let model = try Self.model(TinyModels.kimi)
        let tokens = Self.tokens(20, vocab: 128)
        model.mlaForm = .absorbed
        let absorbed = try Self.logits(model, tokens, chunks: [12, 8])
        model.mlaForm = .naive
        let naive = try Self.logits(model, tokens, chunks: [12, 8])
        #expect(Self.maxRelativeDifference(absorbed, naive) < 1e-4)
    }

    @Test(arguments: [TinyModels.kimi, TinyModels.step])
    func quantizedCachesStayCloseToF32(config: ModelConfig) throws {
        let model = try Self.model(config)
        let tokens = Self.tokens(24, vocab: config.vocabSize)
        let exact = try Self.logits(model, tokens, chunks: [20, 4], cache: .f32)
        let f16 = try Self.logits(model, tokens, chunks: [20, 4], cache: .f16)
        let q8 = try Self.logits(model, tokens, chunks: [20, 4], cache: .q8_0)
        #expect(Self.maxRelativeDifference(f16, exact) < 0.01)
        #expect(Self.maxRelativeDifference(q8, exact) < 0.05)
        #expect(Self.maxRelativeDifference(q8, exact) > 0, "q8_0 cache must actually round")
    }

    @Test func sameSeedSameLogitsOtherSeedOtherLogits() throws {
        let config = TinyModels.step
        let tokens = Self.tokens(10, vocab: config.vocabSize)
        let a = try Self.logits(Self.model(config, recipe: .uniform(.q4_K), seed: 5), tokens, chunks: [10])
        let b = try Self.logits(Self.model(config, recipe: .uniform(.q4_K), seed: 5), tokens, chunks: [10])
        let c = try Self.logits(Self.model(config, recipe: .uniform(.q4_K), seed: 6), tokens, chunks: [10])
        #expect(a == b)
        #expect(a != c)
    }

    @Test(arguments: [TinyModels.kimi, TinyModels.step])
    func finiteAtDepth262144WithSyntheticFill(config: ModelConfig) throws {
        var c = config
        c.kdaHeads = 1; c.mlaHeads = 1; c.fullHeads = 2; c.slidingHeads = 2; c.kvHeads = 1
        let model = try Self.model(c, recipe: .uniform(.q8_0), maxBatch: 4)
        let depth = 262_144
        let state = try InferenceState(model: model, capacity: depth + 4, cacheType: .f16)
        model.fillSynthetic(state, depth: depth, seed: 1, pool: Self.pool)
        let ctx = EngineContext(pool: Self.pool, layers: model.layerCount)
        let prefill = Array(model.forward(Self.tokens(3, vocab: c.vocabSize), state: state, ctx: ctx))
        let decode = Array(model.forward([5], state: state, ctx: ctx))
        #expect(state.position == depth + 4)
        #expect(prefill.allSatisfy { $0.isFinite })
        #expect(decode.allSatisfy { $0.isFinite })
    }

    @Test func timersAttributeEveryMechanism() throws {
        let model = try Self.model(TinyModels.kimi)
        model.mlaForm = .absorbed  // its absorb op (the expanded form's kv_up: `mlaFormIsChosenAndCountedByFLOPs`)
        let ctx = EngineContext(pool: Self.pool, layers: model.layerCount)
        let state = try InferenceState(model: model, capacity: 9, cacheType: .f32)
        model.forward(Self.tokens(8, vocab: 128), state: state, ctx: ctx)
        let names = Set(ctx.profiler.totalsByOp().map(\.op.name))
        for expected in ["kda.recurrence", "kda.conv", "kda.qk_norm", "kda.gate_proj", "kda.gate", "kda.out_norm",
                         "kda.out_gate", "mla.attention", "mla.absorb", "moe.topk", "moe.experts",
                         "moe.shared_expert", "ffn.dense", "lm_head", "embedding"] {
            #expect(names.contains(expected), "\(expected) not timed")
        }
        ctx.profiler.reset()
        ctx.profiler.enabled = false
        model.forward([1], state: state, ctx: ctx)
        #expect(ctx.profiler.totalNanoseconds == 0)
    }

    /// A known op's time lands under its name: where one op does nearly all of a mixer's work by
    /// construction, its timer holds nearly all of the mixer's time. KDA with a 1024-wide gate rank
    /// on a 64-wide model (the five gate projections are ~20x the rest); naive MLA for one token at
    /// depth 64 (expanding 64 latents per head is ~16x the attention over them). Each op's time is
    /// its least over 5 runs: the test target runs suites in parallel, and another test's threads
    /// preempting the pool mid-op once put 40 ms into ops that take microseconds.
    @Test func opTimesLandUnderTheirNames() throws {
        var config = TinyModels.kimi
        config.kdaGateRank = 1024
        let kda = try Self.model(config)
        let ctx = EngineContext(pool: Self.pool, layers: kda.layerCount)
        func leastTimes(_ run: () throws -> Void) rethrows -> [String: Double] {
            var least: [String: Double] = [:]
            for _ in 0..<5 {
                ctx.profiler.reset()
                try run()
                for total in ctx.profiler.totalsByOp() {
                    least[total.op.name] = min(least[total.op.name] ?? .infinity, Double(total.entry.nanoseconds))
                }
            }
            return least
        }
        let prefill = try leastTimes {
            let state = try InferenceState(model: kda, capacity: 8, cacheType: .f32)
            kda.forward(Self.tokens(8, vocab: 128), state: state, ctx: ctx)
        }
        let ns = { (name: String) in prefill[name] ?? 0 }
        let rest = ["kda.conv", "kda.qk_norm", "kda.gate", "kda.out_norm", "kda.out_gate", "kda.recurrence"].map(ns).reduce(0, +)
        #expect(ns("kda.gate_proj") > 2 * rest, "gate_proj \(ns("kda.gate_proj")) ns, the rest \(rest) ns")
        kda.mlaForm = .naive
        let state = try InferenceState(model: kda, capacity: 65, cacheType: .f32)
        kda.forward(Self.tokens(64, vocab: 128), state: state, ctx: ctx)
        let atDepth = try state.snapshot()
        let decode = leastTimes {
            state.restore(atDepth)
            kda.forward([3], state: state, ctx: ctx)
        }
        let kvUp = decode["mla.kv_up"] ?? 0, attention = decode["mla.attention"] ?? 0
        #expect(kvUp > 3 * attention, "kv_up \(kvUp) ns, attention \(attention) ns")
    }

    @Test func footprintOfPresetsMatchesPublishedSizes() {
        let kimi = ModelConfig.kimiLinear48B.footprint(recipe: .uniform(.bf16), cacheType: .f16)
        let step = ModelConfig.step35Flash.footprint(recipe: .uniform(.bf16), cacheType: .f16)
        // ~48B total / ~3B active; ~196B total / ~11B active (published, rounded).
        #expect((46e9...50e9).contains(Double(kimi.totalParameters)), "\(kimi.totalParameters)")
        #expect((2.5e9...3.5e9).contains(Double(kimi.activeParameters)), "\(kimi.activeParameters)")
        #expect((190e9...202e9).contains(Double(step.totalParameters)), "\(step.totalParameters)")
        #expect((10e9...12.5e9).contains(Double(step.activeParameters)), "\(step.activeParameters)")
        // KV per token: Kimi 7 x 576 f16 values; Step 12 full layers x 2 x 8 x 128.
        #expect(kimi.kvBytesPerToken == Double(7 * 576 * 2))
        #expect(step.kvBytesPerToken == Double(12 * 2 * 8 * 128 * 2))
        #expect(kimi.fixedStateBytes == 20 * (524_288 + 36_864) * 4)
        // Step's 33 sliding layers: min(depth, 512) rows of 2 x 8 x 128 values read per token;
        // a ring of 512 + micro-batch rows allocated.
        let row = Double(33 * 2 * 8 * 128 * 2)
        #expect(step.contextBytes(depth: 100) == step.kvBytesPerToken * 100 + row * 100)
        #expect(step.contextBytes(depth: 4096) == step.kvBytesPerToken * 4096 + row * 512)
        #expect(step.allocatedStateBytes(capacity: 4096, microBatch: 256).rings == row * 768)
        #expect(step.allocatedStateBytes(capacity: 300, microBatch: 256).rings == row * 300)
    }

    /// The cost model counts the LM head as the engine runs it: once per forward call (the last
    /// token's logits), so a 512-token prefill in one call has 511 fewer LM-head rows than 512 calls.
    @Test func lmHeadCountedOncePerForwardCall() throws {
        let model = try Self.model(TinyModels.kimi)
        let ctx = EngineContext(pool: Self.pool, layers: model.layerCount)
        let state = try InferenceState(model: model, capacity: 9, cacheType: .f32)
        model.forward(Self.tokens(8, vocab: 128), state: state, ctx: ctx)
        let lmHead = try #require(ctx.profiler.totalsByOp().first { $0.op.name == "lm_head" })
        #expect(lmHead.entry.calls == 1)
        let c = ModelConfig.kimiLinear48B
        // One MLA form for both, so only the LM head differs (`mlaFormIsChosenAndCountedByFLOPs`).
        let once = c.flops(tokens: 512, depth: 0, recipe: .q4_K_M, forwardCalls: 1, mlaForm: .absorbed)
        let perToken = c.flops(tokens: 512, depth: 0, recipe: .q4_K_M, mlaForm: .absorbed)
        #expect(perToken - once == 2 * Double(c.vocabSize * c.hiddenSize) * 511)
        #expect(c.flops(tokens: 1, depth: 0, recipe: .q4_K_M, forwardCalls: 1) == c.flops(tokens: 1, depth: 0, recipe: .q4_K_M))
    }

    /// Expert weight reads per micro-batch as the engine runs experts: an expert chosen by fewer
    /// than Linear.gemmMinimumTokens tokens is a GEMV per token (its weights read per token), else
    /// one GEMM. Checked against the sum over every token count j of P(j) x reads(j), with P from
    /// log-gamma (another way to the binomial).
    @Test(arguments: [(1, 8, 256), (3, 8, 256), (16, 8, 256), (64, 8, 256), (512, 8, 16), (5, 4, 32)])
    func expertReadsFollowTheGEMMThreshold(tokens: Int, chosen: Int, experts: Int) {
        let p = Double(chosen) / Double(experts), m = Linear.gemmMinimumTokens
        var expected = 0.0
        for j in 1...tokens {
            let logP = lgamma(Double(tokens + 1)) - lgamma(Double(j + 1)) - lgamma(Double(tokens - j + 1))
                + Double(j) * log(p) + Double(tokens - j) * log1p(-p)
            expected += exp(logP) * Double(j < m ? j : 1)
        }
        let got = ModelFootprint.expectedExpertReads(tokens: tokens, chosen: chosen, of: experts)
        #expect(abs(got - expected) <= 1e-9 * max(1, expected), "T=\(tokens): \(got) vs \(expected)")
    }

    /// The plan's memory is what InferenceState allocates: caches and rings, byte for byte.
    @Test(arguments: [ModelConfig.step35Mini, .kimiLinearMini])
    func footprintMatchesTheAllocatedState(config: ModelConfig) throws {
        let model = try Self.model(config, recipe: .uniform(.q8_0), maxBatch: 48)
        for capacity in [40, 700, 2000] {
            let state = try InferenceState(model: model, capacity: capacity, cacheType: .f16)
            let f = config.footprint(recipe: .uniform(.q8_0), cacheType: .f16)
            let planned = f.allocatedStateBytes(capacity: capacity, microBatch: 48)
            #expect(Double(state.byteCount) == planned.cache + planned.rings + planned.fixed, "capacity \(capacity)")
        }
    }

    @Test func recipeKeepsSmallTensorsF32AndFallsBackOnOddRows() {
        let specs = ModelConfig.kimiLinear48B.layerTensorSpecs(3) + ModelConfig.kimiLinear48B.layerTensorSpecs(0)
        let recipe = WeightRecipe.q4_K_M
        for spec in specs {
            let type = recipe.type(for: spec, layerCount: 27)
            if spec.alwaysF32 { #expect(type == .f32, "\(spec.name)") }
            #expect(spec.cols % type.blockValues == 0, "\(spec.name) \(type)")
        }
        let kb = specs.first { $0.name == "blk.3.attn_k_b.weight" }!
        // llama.cpp's fallbacks for rows of 128: q4_K -> q5_0, q6_K -> q8_0.
        #expect(recipe.type(for: kb, layerCount: 27) == .q5_0)
        #expect(WeightRecipe.uniform(.q6_K).type(for: kb, layerCount: 27) == .q8_0)
        #expect(WeightRecipe.uniform(.q4_0).type(for: kb, layerCount: 27) == .q4_0)
    }
}

@Suite(.serialized) struct ModelConfigAndSnapshotTests {
    @Test func overridesApplyAndBadFieldsAreNamed() throws {
        let c = try ModelConfig.kimiLinear48B.overriding(["layerCount": 4, "experts": 32, "vocabSize": 1024])
        #expect(c.layerCount == 4 && c.experts == 32 && c.vocabSize == 1024)
        #expect(c.layerMixers == [.kda, .kda, .kda, .mla])
        #expect(throws: ModelConfigError.self) { try ModelConfig.kimiLinear48B.overriding(["expertz": 32]) }
        do { _ = try ModelConfig.kimiLinear48B.overriding(["expertz": 32]) } catch let e as ModelConfigError {
            #expect(e.description.contains("did you mean 'experts'"))
        }
        do { _ = try ModelConfig.kimiLinear48B.overriding(["experts": "many"]) } catch let e as ModelConfigError {
            #expect(e.field == "experts")
        }
        do { _ = try ModelConfig.step35Flash.overriding(["slidingHeads": 90]) } catch let e as ModelConfigError {
            #expect(e.field == "slidingHeads" && e.message.contains("multiple of kvHeads"))
        }
        // Step-3.5-Flash clamps per layer: routed experts on the last two layers, the shared expert
        // on the last; a scalar override applies where no per-layer entry is given.
        let step = ModelConfig.step35Flash
        #expect(step.routedLimit(layer: 42) == nil && step.routedLimit(layer: 43) == 7 && step.sharedLimit(layer: 43) == nil)
        #expect(step.sharedLimit(layer: 44) == 16)
        let everywhere = try step.overriding(["routedSwigluLimits": NSNull(), "routedSwigluLimit": 5])
        #expect(everywhere.routedLimit(layer: 3) == 5 && everywhere.sharedLimit(layer: 3) == nil)
    }

    @Test func fullModelPatternsMatchThePublishedLayouts() {
        let kimi = ModelConfig.kimiLinear48B.layerMixers
        #expect(kimi.indices.filter { kimi[$0] == .mla } == [3, 7, 11, 15, 19, 23, 26])
        let step = ModelConfig.step35Flash.layerMixers
        #expect(step.filter { $0 == .gqaFull }.count == 12 && step.filter { $0 == .gqaSliding }.count == 33)
    }

    @Test func projectionScalesPerKindTimes() throws {
        // Slice of 4 Step layers: full+dense, sliding+dense x2, sliding+moe. Mixer 10 ns per full layer,
        // 20 per sliding; FFN 5 per dense, 40 per MoE; shared 1 per layer; model-level 100.
        let config = ModelConfig.step35Flash
        let profiler = OpProfiler(layers: 4)
        // Recorded durations, not clocks: the projection is arithmetic and its test must not depend
        // on how busy the machine is.
        func add(_ op: Op, _ slot: Int, _ ns: UInt64) { profiler.record(op, layer: slot, nanoseconds: ns) }
        let unit: UInt64 = 1000
        add(.gqaAttention, 0, 10 * unit); add(.denseFFN, 0, 5 * unit)
        for l in 1...2 { add(.gqaAttention, l, 20 * unit); add(.denseFFN, l, 5 * unit) }
        add(.gqaAttention, 3, 20 * unit); add(.expertFFN, 3, 40 * unit)
        add(.lmHead, 4, 100 * unit)
        let wall = Double(profiler.totalNanoseconds)
        let p = try SliceProjection.project(config: config, sliceLayers: 4, profiler: profiler, wallNanoseconds: wall)
        // Full: 12 x 10 + 33 x 20 + 3 x 5 + 42 x 40 + 100 = 2575 units.
        let expected = Double(2575 * unit)
        #expect(abs(p.projectedNanoseconds / expected - 1) < 1e-9, "\(p.projectedNanoseconds / Double(unit))")
        // A Kimi slice of 2 layers has no MLA layer: no projection.
        let kimi = OpProfiler(layers: 2)
        kimi.time(.kdaRecurrence, layer: 0) {}
        #expect(throws: SliceProjection.Failure.self) {
            try SliceProjection.project(config: .kimiLinear48B, sliceLayers: 2, profiler: kimi, wallNanoseconds: 1)
        }
    }

    @Test(arguments: [TinyModels.kimi, TinyModels.step])
    func snapshotRestoreRepeatsExactly(config: ModelConfig) throws {
        let pool = ThreadPool(threads: 2)
        let model = try Model(weights: ModelWeights(config: config, recipe: .uniform(.q8_0), seed: 2, pool: pool), maxBatch: 16)
        let ctx = EngineContext(pool: pool, layers: model.layerCount)
        let state = try InferenceState(model: model, capacity: 64, cacheType: .q8_0)
        model.fillSynthetic(state, depth: 30, seed: 3, pool: pool)
        let snapshot = try state.snapshot()
        let first = Array(model.forward([1, 2, 3, 4, 5], state: state, ctx: ctx))
        model.forward([9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9], state: state, ctx: ctx)  // disturb: wraps the rings
        state.restore(snapshot)
        let again = Array(model.forward([1, 2, 3, 4, 5], state: state, ctx: ctx))
        #expect(first == again)
        #expect(state.position == 35)
    }
}
