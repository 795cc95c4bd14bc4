import CtxEngine
import Foundation

/// One point of a suite's grid.
public struct Cell: Sendable, Equatable {
    /// Position in the full grid (stable across shards and resumes).
    public var index: Int
    public var model: Int
    public var recipe: WeightRecipe
    public var cacheType: DType
    public var threads: Int
    public var numa: NumaPolicy
    public var fill: FillMode
    public var depth: Int
    public var test: Suite.Test
    /// Index into the suite's engines.
    public var engine: Int = 0

    /// Cells sharing a setup share one engine session (weights, caches, the depth ladder).
    public struct Setup: Hashable, Sendable {
        public var model: Int
        public var recipe: WeightRecipe
        public var cacheType: DType
        public var threads: Int
        public var numa: NumaPolicy
        public var fill: FillMode
        public var engine: Int = 0
    }

    public var setup: Setup { Setup(model: model, recipe: recipe, cacheType: cacheType, threads: threads, numa: numa, fill: fill, engine: engine) }

    /// A unique, readable key: "kimi-linear-mini/q8_0/f16/t2/none/synthetic/pp512@d1024"; another
    /// engine's cells start with its label ("llama.cpp/kimi-small/q4_K_M/f16/t2/none/computed/pp512@d0").
    public func id(in suite: Suite) -> String {
        let engine = suite.engines[self.engine].label
        return (engine == Suite.Engine.ctxbench.label ? "" : engine + "/") + "\(suite.models[model].label)/\(recipe)/\(cacheType.rawValue)/t\(threads)/\(numa.rawValue)/\(fill.rawValue)/\(test.label)@d\(depth)"
    }

    /// llama-bench's test label: "pp512 @ d1024" (no suffix at depth 0).
    public var testLabel: String { Self.label(test, depth: depth) }

    static func label(_ test: Suite.Test, depth: Int) -> String { depth > 0 ? "\(test.label) @ d\(depth)" : test.label }
}

/// The cells of a suite in run order: grouped by setup, then depth ascending (the ladder extends a
/// filled context instead of refilling it), then test. A shard takes every n-th cell of the grid.
public struct SuitePlan: Sendable {
    public let suite: Suite
    public let cells: [Cell]
    public let shard: (index: Int, count: Int)?
    /// Setups in run order, and per setup (computed once: plans of 100,000 cells stay linear)
    /// its cells, the context it must hold, its number of depths and its first cell at each depth.
    public let setups: [Cell.Setup]
    /// Setups measured side by side: those that differ only in the suite's interleaved
    /// dimensions (`interleave: ["fill"]`, `["engine"]`) form one group; every other setup is a
    /// group alone.
    public let groups: [[Cell.Setup]]
    private let cellsBySetup: [Cell.Setup: [Cell]]
    private let capacities: [Cell.Setup: Int]
    private let depthCounts: [Cell.Setup: Int]
    private let firstAtDepth: Set<Int>

    /// Models an engine cannot run, and why ("llama.cpp: kimi-linear-mini is a preset; ..."): not in the grid.
    public let skipped: [String]

    public init(suite: Suite, shard: (index: Int, count: Int)? = nil) {
        self.suite = suite
        self.shard = shard
        var all: [Cell] = []
        var skipped: [String] = []
        for (engineIndex, engine) in suite.engines.enumerated() {
            // llama.cpp reaches a depth by a real prefill: its cells have one fill, computed.
            let fills: [FillMode] = engine.kind == .ctxbench ? suite.fills : [.computed]
            for model in suite.models.indices {
                if let reason = suite.engine(engine, cannotRun: model) { skipped.append("\(engine.label): \(reason)"); continue }
                for recipe in suite.recipes(ofModel: model) {
                    for cache in suite.cacheTypes {
                        for threads in suite.threads {
                            for numa in suite.numa {
                                for fill in fills {
                                    for depth in suite.depths {
                                        for test in suite.tests where engine.measures(test, depth: depth) {
                                            all.append(Cell(index: all.count, model: model, recipe: recipe, cacheType: cache,
                                                            threads: threads, numa: numa, fill: fill, depth: depth, test: test,
                                                            engine: engineIndex))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for engine in suite.engines where engine.tool == .batchedBench {
            let left = suite.depths.flatMap { d in suite.tests.filter { !engine.measures($0, depth: d) }.map { Cell.label($0, depth: d) } }
            if !left.isEmpty {
                skipped.append("\(engine.label): \(left.count) test(s) llama-batched-bench does not measure (a prefill into a filled context, "
                               + "or pp+tg), e.g. \(left[0])")
            }
        }
        self.skipped = skipped
        let cells = shard.map { s in all.filter { $0.index % s.count == s.index } } ?? all
        self.cells = cells
        var order: [Cell.Setup] = [], grouped: [Cell.Setup: [Cell]] = [:]
        var first = Set<Int>()
        struct SetupDepth: Hashable { var setup: Cell.Setup; var depth: Int }
        var seenDepth = Set<SetupDepth>()
        for cell in cells {
            let setup = cell.setup
            if grouped[setup] == nil { order.append(setup) }
            grouped[setup, default: []].append(cell)
            if seenDepth.insert(SetupDepth(setup: setup, depth: cell.depth)).inserted {
                first.insert(cell.index)
            }
        }
        setups = order
        var groupOrder: [Cell.Setup] = [], members: [Cell.Setup: [Cell.Setup]] = [:]
        for setup in order {
            var key = setup
            if suite.interleave.contains(.fill) { key.fill = .synthetic }
            if suite.interleave.contains(.engine) {
                // llama.cpp's cells have the computed fill whatever the suite's: they join the group
                // of the suite's first fill.
                if suite.engines[setup.engine].kind == .llamaCpp, !suite.interleave.contains(.fill) { key.fill = suite.fills[0] }
                key.engine = 0
            }
            if members[key] == nil { groupOrder.append(key) }
            members[key, default: []].append(setup)
        }
        groups = groupOrder.map { members[$0]! }
        cellsBySetup = grouped
        // Tokens of context the setup's state must hold: the deepest depth plus the longest test.
        capacities = grouped.mapValues { mine in (mine.map(\.depth).max() ?? 0) + (mine.map(\.test.tokens).max() ?? 0) + 1 }
        depthCounts = grouped.mapValues { Set($0.map(\.depth)).count }
        firstAtDepth = first
    }

    /// The cells of one setup, in run order.
    public func cells(of setup: Cell.Setup) -> [Cell] { cellsBySetup[setup] ?? [] }

    /// Tokens of context the setup's state must hold: the deepest depth plus the longest test.
    public func capacity(of setup: Cell.Setup) -> Int { capacities[setup] ?? 1 }

    /// Memory a setup needs: weights, the caches at full capacity, fixed states, and a snapshot of
    /// the fixed states per depth of the ladder; `state` also counts ctxbench's scratch that grows
    /// with the context (`ModelConfig.mlaExpansionBytes`).
    public struct Memory: Sendable {
        public var weights: Double
        public var cache: Double
        public var state: Double
        public var total: Double { weights + cache + state }
    }

    public func memory(of setup: Cell.Setup) -> Memory {
        let entry = suite.models[setup.model]
        let f = entry.config.footprint(recipe: setup.recipe, cacheType: setup.cacheType, layers: entry.layers)
        let depths = depthCounts[setup] ?? 0
        // As allocated: linear caches for the capacity, sliding-window rings of window + micro-batch
        // rows, fixed states; each depth of the ladder keeps a snapshot of the rings and fixed states.
        let state = f.allocatedStateBytes(capacity: capacity(of: setup), microBatch: suite.microBatch)
        // ctxbench's own context-sized scratch: the expanded MLA form's (up to 256 MiB) and its
        // f32 copies of W_kb.
        let scratch = suite.engines[setup.engine].kind == .ctxbench
            ? entry.config.mlaExpansionBytes(capacity: capacity(of: setup), form: suite.mlaForm, layers: entry.layers) : 0
        return Memory(weights: Double(f.weightBytes), cache: state.cache,
                      state: (state.rings + state.fixed) * Double(1 + depths) + scratch)
    }

    /// A rough time estimate for a cell, from FLOPs at 50% of peak and bytes at 70% of bandwidth
    /// (whichever is slower) times warmup + repetitions, plus a synthetic fill at 2 GB/s or a
    /// computed one at the prefill estimate. Used for the plan and the ETA, labelled as estimates.
    public func estimatedSeconds(_ cell: Cell, gflops: Double, gbps: Double) -> Double {
        let entry = suite.models[cell.model]
        let f = entry.config.footprint(recipe: cell.recipe, cacheType: cell.cacheType, layers: entry.layers)
        func seconds(tokens: Int, depth: Int, calls: Int) -> Double {
            let flops = entry.config.flops(tokens: tokens, depth: depth, recipe: cell.recipe, layers: entry.layers, forwardCalls: calls,
                                           mlaForm: suite.mlaForm)
            let bytes = f.weightBytesRead(tokens: max(1, tokens / calls)) * Double(calls) + f.contextBytes(depth: depth) * Double(calls)
            return max(flops / (gflops * 0.5e9), bytes / (gbps * 0.7e9))
        }
        var one = 0.0
        if cell.test.promptTokens > 0 {
            one += seconds(tokens: cell.test.promptTokens, depth: cell.depth,
                           calls: (cell.test.promptTokens + suite.microBatch - 1) / suite.microBatch)
        }
        if cell.test.generatedTokens > 0 {
            one += seconds(tokens: cell.test.generatedTokens, depth: cell.depth, calls: cell.test.generatedTokens)
        }
        var total = one * Double(suite.warmup + suite.repetitions.minimum)
        // The first cell at a depth also pays for reaching it from the depth below.
        if cell.depth > 0, firstAtDepth.contains(cell.index) {
            let from = suite.depths.filter { $0 < cell.depth }.max() ?? 0
            switch cell.fill {
            case .synthetic: total += f.contextBytes(depth: cell.depth) / 2e9
            case .computed:
                let n = cell.depth - from
                total += seconds(tokens: n, depth: from, calls: (n + suite.microBatch - 1) / suite.microBatch)
            }
        }
        return total
    }
}
