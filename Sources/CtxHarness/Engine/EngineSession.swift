import CtxEngine
import Foundation

/// How a context depth is reached before a test.
public enum FillMode: String, Codable, Sendable, CaseIterable {
    /// Run a real prefill of `depth` tokens.
    case computed
    /// Write plausible values straight into caches and states (`Model.fillSynthetic`).
    case synthetic
}

/// One model configuration ready to measure: weights generated, a pool, caches for `capacity`
/// tokens. Tests start from a snapshot at their depth, so repetitions never re-prefill.
public final class EngineSession: @unchecked Sendable {
    public struct Setup: Sendable {
        public var config: ModelConfig
        /// Run only the first `layers` of the pattern (a slice); nil: all.
        public var layers: Int?
        public var recipe: WeightRecipe
        public var cacheType: DType
        public var threads: Int
        public var numa: NumaPolicy
        public var seed: UInt64
        public var microBatch: Int
        public var mlaForm: MLAForm
        public var profiling: Bool
        /// A GGUF file whose own weights the session reads (with synthetic weights, nil: the file
        /// gave only the configuration).
        public var gguf: GGUFModel?

        public init(config: ModelConfig, layers: Int? = nil, recipe: WeightRecipe, cacheType: DType = .f16,
                    threads: Int, numa: NumaPolicy = .none, seed: UInt64 = 1, microBatch: Int = 512,
                    mlaForm: MLAForm = .auto, profiling: Bool = true, gguf: GGUFModel? = nil) {
            self.config = config; self.layers = layers; self.recipe = recipe; self.cacheType = cacheType
            self.threads = threads; self.numa = numa; self.seed = seed; self.microBatch = microBatch
            self.mlaForm = mlaForm; self.profiling = profiling
            self.gguf = gguf.flatMap { $0.syntheticWeights ? nil : $0 }
        }
    }

    public let setup: Setup
    public let model: Model
    public let state: InferenceState
    public let context: EngineContext
    public let pool: ThreadPool
    public let placement: ThreadPlacement
    /// Seconds spent generating weights (or mapping and checking a GGUF file's), and regrouping them
    /// for decode.
    public let weightSeconds: Double
    /// Tensors of a GGUF file converted on load (the rest are used in place).
    public let convertedTensors: [String]
    /// The quantized and f16 matrices given a copy for decode (`ModelWeights.regroupForDecode`); its time is
    /// part of `weightSeconds`.
    public let decodeRegrouping: ModelWeights.DecodeRegrouping
    private var snapshots: [Int: StateSnapshot] = [:]
    /// Test tokens and computed-fill tokens come from separate streams, so the tests after a
    /// synthetic and after a computed fill see the same tokens (and route to the same experts).
    private var random: SeededRandom
    private var fillRandom: SeededRandom

    public init(_ setup: Setup, capacity: Int, topology: NumaTopology) throws {
        self.setup = setup
        placement = try ThreadPlacement.plan(threads: setup.threads, policy: setup.numa, topology: topology)
        pool = ThreadPool(threads: setup.threads, placement: placement)
        let start = monotonicNanoseconds()
        let weights = try setup.gguf.map { try $0.loadWeights(config: setup.config, layers: setup.layers) }
            ?? ModelWeights(config: setup.config, recipe: setup.recipe, seed: setup.seed, layers: setup.layers,
                            pool: pool, placement: placement.memory)
        decodeRegrouping = try weights.regroupForDecode(pool: pool, budgetBytes: Self.decodeRegroupingBudget)
        weightSeconds = Double(monotonicNanoseconds() - start) / 1e9
        convertedTensors = weights.convertedTensors
        model = try Model(weights: weights, maxBatch: setup.microBatch)
        model.mlaForm = setup.mlaForm
        state = try InferenceState(model: model, capacity: capacity, cacheType: setup.cacheType, placement: placement.memory)
        context = EngineContext(pool: pool, layers: model.layerCount, profiling: setup.profiling)
        random = SeededRandom(seed: setup.seed, stream: 0x70_6B_65_6E)
        fillRandom = SeededRandom(seed: setup.seed, stream: 0x66_69_6C_6C)
    }

    /// The most memory the decode copies of a model's weights may take: half of what is available
    /// now, so they leave room for caches, states and the prefill's scratch (0 where unknown).
    public static var decodeRegroupingBudget: Int { Int(PlatformInfo.availableMemoryBytes() / 2) }

    /// Deterministic token ids for tests.
    public func tokens(_ n: Int) -> [Int32] {
        (0..<n).map { _ in Int32(random.next() % UInt64(setup.config.vocabSize)) }
    }

    /// Brings the state to `depth` (from the deepest snapshot below it when computing) and keeps
    /// a snapshot there. Returns the nanoseconds spent.
    @discardableResult
    public func reach(depth: Int, fill: FillMode) throws -> UInt64 {
        if let snapshot = snapshots[depth] { state.restore(snapshot); return 0 }
        let start = monotonicNanoseconds()
        switch fill {
        case .synthetic:
            state.reset()
            model.fillSynthetic(state, depth: depth, seed: setup.seed, pool: pool)
        case .computed:
            if let below = snapshots.keys.filter({ $0 <= depth }).max() { state.restore(snapshots[below]!) } else { state.reset() }
            if depth > state.position {
                let vocab = UInt64(setup.config.vocabSize)
                let input = (0..<(depth - state.position)).map { _ in Int32(fillRandom.next() % vocab) }
                model.forward(input, state: state, ctx: context)
            }
        }
        let elapsed = monotonicNanoseconds() - start
        snapshots[depth] = try state.snapshot()
        return elapsed
    }

    /// Returns to the snapshot at `depth` (which `reach` must have made).
    public func restore(depth: Int) {
        guard let snapshot = snapshots[depth] else { preconditionFailure("no snapshot at depth \(depth)") }
        state.restore(snapshot)
    }

    /// Prefill of n tokens from the current state, in nanoseconds.
    public func prefill(_ n: Int) -> UInt64 {
        let input = tokens(n)
        let start = monotonicNanoseconds()
        let logits = model.forward(input, state: state, ctx: context)
        let elapsed = monotonicNanoseconds() - start
        blackHole(logits.first)
        return elapsed
    }

    /// n single-token decode steps from the current state: nanoseconds per step.
    public func decode(_ n: Int) -> [UInt64] {
        var next: Int32 = tokens(1)[0]
        return (0..<n).map { _ in
            let start = monotonicNanoseconds()
            let logits = model.forward([next], state: state, ctx: context)
            let elapsed = monotonicNanoseconds() - start
            // Greedy next token: keeps the sequence data-dependent like real decoding.
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            next = Int32(best)
            return elapsed
        }
    }

    /// True when the last logits are all finite (a NaN anywhere propagates to them).
    public func lastLogitsAreFinite() -> Bool {
        model.lastLogits.allSatisfy { $0.isFinite }
    }
}
